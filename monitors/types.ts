/** The check contract, defined by the core (functions/core/check.ts) and re-exported for checks. */
export type { CheckContext, CheckDefinition, CheckExample, CheckResult } from "#core/check.ts";
