import type * as z from "zod/mini";
import type { Logger } from "./ports.ts";
import type { CheckResult } from "./schemas.ts";

export type { CheckResult };

/*
 * The contract between the orchestrator and its child checks. It lives in the core, which depends
 * on nothing outside it; monitors/ imports it (DESIGN.md §8, layers point one way).
 */

/** What the orchestrator hands a child check. */
export interface CheckContext {
  monitorId: string;
  /** The monitor's `params` map, unvalidated: each check validates its own with zod. */
  params: Record<string, unknown>;
  /** Aborted when `checkTimeoutSeconds` elapses: pass it to fetch and SDK calls. */
  signal: AbortSignal;
  logger: Logger;
  /** The tick's scheduledTime: the logical "now" for freshness checks. */
  now: Date;
  /**
   * The monitor's IANA timezone (its `timezone`, else the stack's default): the calendar in which
   * "today" is read (date patterns such as `{yyyy}/{MM}/{dd}`). The orchestrator always sets it;
   * a context built elsewhere (a test, a tool) may leave it out, which checks read as UTC.
   */
  timezone?: string;
}

/**
 * A child check: dumb and light. It answers "is X healthy?" and nothing else; state, escalation
 * and mail belong to the orchestrator.
 */
export interface CheckDefinition {
  /** The name config items use in `check`. */
  name: string;
  description: string;
  /**
   * The zod schema of `params`, so that tools (the CLI's add/edit/import) refuse bad params before
   * the first run. The check still validates its params itself when it runs. `watchkeeper checks`
   * documents the params from it: give each field `.meta({ description })` and, for an optional
   * field without a `.default(value)`, `defaultText` (what leaving it out means, in words).
   */
  paramsSchema?: z.ZodMiniType;
  /** A working example, shown by `watchkeeper checks`; its params must pass `paramsSchema`. */
  example?: CheckExample;
  run(ctx: CheckContext): Promise<CheckResult>;
}

/** An example monitor of a check: `watchkeeper checks` turns it into a config item and an `add` command. */
export interface CheckExample {
  /** What the example monitor watches, in a few words: the config item's `name` (its id derives from it). */
  name: string;
  /** @default "rate(5 minutes)" */
  schedule?: string;
  params: Record<string, unknown>;
}
