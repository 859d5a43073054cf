import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { addWatchkeeper } from "../../lib/app.ts";
import type { WatchkeeperStack } from "../../lib/watchkeeper-stack.ts";

const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8")) as {
  context: Record<string, unknown>;
};

export interface SynthesizedWatchkeeper {
  app: App;
  stack: WatchkeeperStack;
  template: Template;
  outdir: string;
  cleanup(): void;
}

/**
 * Builds the app exactly as bin/app.ts does (cdk.json feature flags, cdk-nag plugin) and
 * synthesizes it. `bundle: false` skips esbuild for tests that only look at the template shape.
 */
export function synthWatchkeeper(
  context: Record<string, unknown>,
  options: { bundle: boolean } = { bundle: false },
): SynthesizedWatchkeeper {
  const outdir = mkdtempSync(join(tmpdir(), "watchkeeper-cdk-"));
  const app = new App({
    outdir,
    context: {
      ...cdkJson.context,
      // The CLI turns construct paths on; tests find resources by them.
      "aws:cdk:enable-path-metadata": true,
      ...(options.bundle ? {} : { "aws:cdk:bundling-stacks": [] }),
      ...context,
    },
  });
  const stack = addWatchkeeper(app);
  app.synth();
  return {
    app,
    stack,
    template: Template.fromStack(stack),
    outdir,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

export interface ValidationReport {
  pluginReports: Array<{
    pluginName: string;
    conclusion: string;
    violations: Array<{ ruleName: string; severity: string }>;
  }>;
}

export function validationReport(outdir: string): ValidationReport {
  try {
    return JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")) as ValidationReport;
  } catch {
    return { pluginReports: [] };
  }
}

/**
 * Turns off bundling-time validation (CDK_VALIDATION) for this test file, restoring it afterwards:
 * the settings tests synthesize many stacks with deliberately varied context.
 */
export function withoutCdkValidation(afterAll: (hook: () => void) => void): void {
  const saved = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = "false";
  afterAll(() => {
    if (saved === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = saved;
  });
}

/** An IAM policy statement as the synthesized template holds it. */
export type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

/** Every statement of the orchestrator's execution role. */
export function orchestratorStatements(synthesized: SynthesizedWatchkeeper): Statement[] {
  const { template } = synthesized;
  const [fn] = Object.values(template.findResources("AWS::Lambda::Function")).filter((resource) =>
    String(resource.Metadata?.["aws:cdk:path"]).includes("Orchestrator/Lambda/Function"),
  );
  const roleId = fn?.Properties.Role["Fn::GetAtt"][0];
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

/** Every statement of every policy in the stack. */
export function allStatements(synthesized: SynthesizedWatchkeeper): Statement[] {
  return Object.values(synthesized.template.findResources("AWS::IAM::Policy")).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement as Statement[],
  );
}

/** Every statement in the stack that is not the orchestrator's: what no other role may be granted. */
export function otherRolesStatements(synthesized: SynthesizedWatchkeeper): Statement[] {
  const orchestrator = new Set(
    orchestratorStatements(synthesized).map((statement) => JSON.stringify(statement)),
  );
  return allStatements(synthesized).filter((statement) => !orchestrator.has(JSON.stringify(statement)));
}
