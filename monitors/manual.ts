import * as z from "zod/mini";
import { sleep } from "./support/abort.ts";
import { listOrSet, must, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `manual`: the outcome is whatever the config item says. Used to declare an incident by hand
 * (flip `isOk` to false in the console), in demos and in tests of the orchestrator. `sequence`
 * makes a monitor flap deterministically by the tick's logical time, so a demo or a replay shows
 * alert, reminder and recovery without anyone editing the item.
 */

export const MANUAL_CHECK = "manual";

/** Longest `delayMs`: the orchestrator's own budget (840 s) is the real limit anyway. */
const MAX_DELAY_MS = 900_000;
const MINUTE_MS = 60_000;

export const ManualParamsSchema = z
  .strictObject({
    isOk: z.optional(z.boolean({ error: must("must be true or false") })).register(z.globalRegistry, {
      description: "The outcome (when there is no sequence).",
      defaultText: "required unless sequence or throwMessage is set",
    }),
    message: z.optional(z.string({ error: must("must be a string") })).register(z.globalRegistry, {
      description: "The message, returned verbatim.",
      defaultText: '"Manual check is OK" / "Manual check is failing"',
    }),
    throwMessage: z.optional(z.string({ error: must("must be a string") })).register(z.globalRegistry, {
      description: "Throw an Error with this message instead (after delayMs): exercises the exception path.",
      defaultText: "no throw",
    }),
    delayMs: z
      ._default(
        z
          .number({ error: must(`must be a number of milliseconds between 0 and ${MAX_DELAY_MS}`) })
          .check(z.gte(0), z.lte(MAX_DELAY_MS)),
        0,
      )
      .register(z.globalRegistry, {
        description:
          "Wait this long first, in milliseconds; the orchestrator's timeout aborts the wait (exercises the timeout path).",
      }),
    sequence: z
      .optional(
        listOrSet(z.boolean({ error: must("must be true or false") }), "must be a list of true/false", 1),
      )
      .register(z.globalRegistry, {
        description:
          "Outcomes cycled through by the tick's logical time, one step per sequenceStepMinutes: a deterministic flap. Excludes isOk.",
        defaultText: "none: isOk decides",
      }),
    sequenceStepMinutes: z
      ._default(
        z.number({ error: must("must be a positive whole number of minutes") }).check(z.int(), z.positive()),
        1,
      )
      .register(z.globalRegistry, { description: "Minutes each entry of sequence lasts." }),
  })
  .check(
    z.superRefine((params, ctx) => {
      if (params.isOk !== undefined && params.sequence !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["sequence"],
          message: "cannot be combined with params.isOk: set one of them",
        });
      }
      if (params.isOk === undefined && params.sequence === undefined && params.throwMessage === undefined) {
        ctx.addIssue({ code: "custom", path: ["isOk"], message: "is required (true or false)" });
      }
    }),
  );
export type ManualParams = z.infer<typeof ManualParamsSchema>;

/** Index into `sequence` for the tick at `now`: whole steps since the epoch, wrapped around. */
export function sequenceIndex(now: Date, stepMinutes: number, length: number): number {
  const step = Math.floor(Math.floor(now.getTime() / MINUTE_MS) / stepMinutes);
  return ((step % length) + length) % length;
}

async function run(ctx: CheckContext): Promise<CheckResult> {
  const params = parseParams(MANUAL_CHECK, ManualParamsSchema, ctx.params);
  if (params.delayMs > 0)
    await sleep(params.delayMs, ctx.signal, `manual check wait of ${params.delayMs} ms`);
  if (params.throwMessage !== undefined) throw new Error(params.throwMessage);

  let isOk: boolean;
  let detail = "";
  if (params.sequence) {
    const index = sequenceIndex(ctx.now, params.sequenceStepMinutes, params.sequence.length);
    isOk = params.sequence[index] as boolean;
    detail = ` (sequence step ${index + 1} of ${params.sequence.length} at ${ctx.now.toISOString()})`;
  } else {
    isOk = params.isOk as boolean;
  }
  const message = params.message ?? `Manual check is ${isOk ? "OK" : "failing"}${detail}`;
  return { isOk, message };
}

export const manualCheck: CheckDefinition = {
  name: MANUAL_CHECK,
  description:
    "Returns params.isOk / params.message (or cycles through params.sequence by logical time); params.throwMessage throws, params.delayMs waits first.",
  paramsSchema: ManualParamsSchema,
  example: {
    name: "Demo: 2 minutes down, 2 minutes up",
    schedule: "rate(1 minute)",
    params: { sequence: [false, false, true, true], sequenceStepMinutes: 1 },
  },
  run,
};
