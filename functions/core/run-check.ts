import type { CheckDefinition, CheckResult } from "./check.ts";
import type { Logger } from "./ports.ts";
import { describeThrown, MAX_MESSAGE_CHARS, truncateMessage } from "./text.ts";

export interface CheckOutcome {
  isOk: boolean;
  message: string;
  durationMs: number;
}

export interface RunCheckInput {
  monitorId: string;
  checkName: string;
  check: CheckDefinition | undefined;
  params: Record<string, unknown>;
  timeoutMs: number;
  now: Date;
  /** The monitor's timezone, handed to the check as `ctx.timezone`. */
  timezone?: string;
  logger: Logger;
  /** Monotonic milliseconds; injectable for tests. */
  elapsed?: () => number;
  /**
   * Applied to the outcome's message before it is cut to size (a secret cut in half would escape
   * an exact match): masks the resolved secret values of the run.
   */
  mask?: (message: string) => string;
}

/**
 * Runs an untrusted child check (DESIGN.md §5): unknown check, throw (of anything), timeout (even
 * when the check ignores its AbortSignal and never settles), late result and garbage return value
 * all become a failure whose message says what happened. Never throws.
 */
export async function runCheck(input: RunCheckInput): Promise<CheckOutcome> {
  const elapsed = input.elapsed ?? (() => performance.now());
  const mask = input.mask ?? ((message: string) => message);
  const failure = (message: string, durationMs: number): CheckOutcome => ({
    isOk: false,
    message: truncateMessage(mask(message)),
    durationMs,
  });
  const started = elapsed();
  const took = () => Math.round(elapsed() - started);
  if (!input.check) {
    return failure(`Unknown check "${input.checkName}": no such check is registered in monitors/index.ts`, 0);
  }
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`check timed out after ${input.timeoutMs} ms`));
      resolve("timeout");
    }, input.timeoutMs);
  });
  try {
    // Promise.resolve().then(...) also catches a check that throws synchronously.
    const run = Promise.resolve().then(() =>
      input.check?.run({
        monitorId: input.monitorId,
        params: input.params,
        signal: controller.signal,
        logger: input.logger,
        now: input.now,
        ...(input.timezone === undefined ? {} : { timezone: input.timezone }),
      }),
    );
    // A result that arrives after the timeout is ignored; swallow its rejection so it is not unhandled.
    run.catch(() => undefined);
    const result = await Promise.race([run, timeout]);
    if (result === "timeout") {
      return failure(`Check "${input.checkName}" timed out after ${input.timeoutMs / 1000} s`, took());
    }
    if (!isCheckResult(result)) {
      return failure(describeInvalidResult(`Check "${input.checkName}"`, result, CHECK_RESULT_SHAPE), took());
    }
    const { isOk, message } = result;
    return { isOk, message: truncateMessage(mask(message)), durationMs: took() };
  } catch (thrown) {
    return failure(`Check "${input.checkName}" threw: ${describeThrown(thrown)}`, took());
  } finally {
    clearTimeout(timer);
  }
}

/** The shape a check's result must have, as messages spell it. */
export const CHECK_RESULT_SHAPE = "{ isOk: boolean, message: string }";

/** A check result: an object with a boolean `isOk` and a string `message` (other keys are ignored). */
export function isCheckResult(value: unknown): value is CheckResult {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { isOk?: unknown }).isOk === "boolean" &&
    typeof (value as { message?: unknown }).message === "string"
  );
}

/**
 * The failure message for something that is not a result, shared by every runner of checks
 * (in-process here, remote in monitors/lambda.ts): `<who> returned an invalid result (expected
 * <shape>): <it, as JSON>` (cut with the rest of the message, after masking).
 */
export function describeInvalidResult(who: string, value: unknown, shape: string): string {
  return `${who} returned an invalid result (expected ${shape}): ${preview(value)}`;
}

/**
 * A value as JSON (or as a string when it has no JSON form), at most a message long. Never cut
 * shorter: a message is masked (secret values) before it is cut to MAX_MESSAGE_CHARS, and a cut
 * made here, before the masking, could leave the start of a secret the mask no longer recognises
 * (a function that echoes its event echoes its resolved params). What follows a lead text is
 * past that final cut anyway.
 */
export function preview(value: unknown): string {
  if (value === undefined) return "undefined";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}
