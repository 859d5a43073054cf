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
