import { en } from "zod/locales";
import * as z from "zod/mini";

/**
 * The orchestrator validates with zod/mini, not classic zod (issue 13): the same validators and the
 * same messages, with functions instead of methods (`z.optional(s)` for `s.optional()`,
 * `s.check(z.maxLength(n))` for `s.max(n)`), a quarter of the bytes and a tenth of the import time
 * at cold start (docs/performance.md). Every module on the orchestrator's path (functions/core,
 * monitors/) imports `zod/mini`; the CLI, lib/ and scripts may use classic zod, which accepts the
 * same schemas.
 *
 * zod/mini ships no messages of its own ("Invalid input" for everything): importing this module
 * sets zod's English locale once, as classic zod does when it loads, so the messages that reach
 * config problems and alert mail read the same. functions/core/schemas.ts and
 * monitors/support/params.ts import it, so every schema with messages is loaded after it.
 */
z.config(en());

/**
 * Classic zod's `z.preprocess`: `fn` runs on the raw input before `schema` validates it. JSON
 * Schema conversion (`watchkeeper checks`) shows the schema's input, as for classic's.
 */
export function preprocess<T extends z.core.SomeType>(fn: (value: unknown) => unknown, schema: T) {
  return z.pipe(
    z.transform((value: unknown) => fn(value)),
    schema as T & z.core.$ZodType<unknown, unknown>,
  );
}
