import { type App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { settingsFromContext } from "./settings.ts";
import { WatchkeeperStack } from "./watchkeeper-stack.ts";

/**
 * Adds the Watchkeeper stack to an app, with cdk-nag's AWS Solutions checks as a synth-time
 * validation: a finding without an acknowledgement fails `cdk synth`. bin/app.ts and the infra
 * tests build the app through this one function, so the tests check what users deploy.
 */
export function addWatchkeeper(app: App): WatchkeeperStack {
  const settings = settingsFromContext(app.node);
  const stack = new WatchkeeperStack(app, "Watchkeeper", {
    stackName: settings.namePrefix,
    settings,
    // Environment-agnostic unless the CLI knows the account: synth needs no credentials.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
