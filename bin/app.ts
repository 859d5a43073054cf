#!/usr/bin/env node
import { App } from "aws-cdk-lib";
import { addWatchkeeper } from "../lib/app.ts";
import { WatchkeeperConfigError } from "../lib/settings.ts";

const app = new App();
try {
  addWatchkeeper(app);
} catch (error) {
  // A context mistake is the user's to fix: the message, not a stack trace.
  if (!(error instanceof WatchkeeperConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
app.synth();
