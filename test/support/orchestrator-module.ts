/**
 * The orchestrator handler module for unit tests. It wires its Lambda entry point from the
 * environment when imported, so the variables that wiring requires are set first.
 */
export async function loadOrchestratorModule(options: { metrics?: boolean } = {}) {
  process.env.MONITORS_TABLE = "unit";
  process.env.SENDER_EMAIL = "watchkeeper@example.com";
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  if (options.metrics) delete process.env.POWERTOOLS_METRICS_DISABLED;
  else process.env.POWERTOOLS_METRICS_DISABLED = "true";
  return import("../../functions/orchestrator/handler.ts");
}
