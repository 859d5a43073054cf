import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { MANUAL_CHECK, manualCheck, sequenceIndex } from "#monitors/manual.ts";
import { InvalidParamsError } from "#monitors/support/params.ts";
import type { CheckContext } from "#monitors/types.ts";

const NOW = new Date("2026-11-21T14:05:00.000Z");

function context(params: Record<string, unknown>, overrides: Partial<CheckContext> = {}): CheckContext {
  return {
    monitorId: "demo",
    params,
    signal: new AbortController().signal,
    logger: silentLogger,
    now: NOW,
    ...overrides,
  };
}

/** A logical time `minutes` whole minutes after the epoch. */
const atMinute = (minutes: number) => new Date(minutes * 60_000);

describe("manual check", () => {
  it("is registered under the name config items use", () => {
    expect(manualCheck.name).toBe(MANUAL_CHECK);
    expect(MANUAL_CHECK).toBe("manual");
  });

  it("returns params.isOk with a sensible default message", async () => {
    await expect(manualCheck.run(context({ isOk: true }))).resolves.toEqual({
      isOk: true,
      message: "Manual check is OK",
    });
    await expect(manualCheck.run(context({ isOk: false }))).resolves.toEqual({
      isOk: false,
      message: "Manual check is failing",
    });
  });

  it("returns params.message verbatim", async () => {
    const message = "Declared by hand: payments degraded, see INC-42";
    await expect(manualCheck.run(context({ isOk: false, message }))).resolves.toEqual({
      isOk: false,
      message,
    });
  });

  it("throws an Error with params.throwMessage, which needs no isOk", async () => {
    await expect(manualCheck.run(context({ throwMessage: "database unreachable" }))).rejects.toThrow(
      new Error("database unreachable"),
    );
    await expect(manualCheck.run(context({ isOk: true, throwMessage: "boom" }))).rejects.toThrow("boom");
  });

  it("waits params.delayMs before answering", async () => {
    const started = performance.now();
    await expect(manualCheck.run(context({ isOk: true, delayMs: 120 }))).resolves.toMatchObject({
      isOk: true,
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
  });

  it("waits before throwing too", async () => {
    const started = performance.now();
    await expect(manualCheck.run(context({ throwMessage: "late boom", delayMs: 80 }))).rejects.toThrow(
      "late boom",
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(70);
  });

  it("stops waiting as soon as ctx.signal aborts, saying why", async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new Error("check timed out after 0.05 s")), 50);
    await expect(
      manualCheck.run(context({ isOk: true, delayMs: 60_000 }, { signal: controller.signal })),
    ).rejects.toThrow(/manual check wait of 60000 ms aborted: check timed out after 0\.05 s/);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it("rejects at once when the signal is already aborted", async () => {
    const signal = AbortSignal.abort(new Error("gone"));
    await expect(manualCheck.run(context({ isOk: true, delayMs: 10 }, { signal }))).rejects.toThrow(
      /aborted: gone/,
    );
  });

  describe("params validation names the bad param", () => {
    it.each([
      [{}, "params.isOk is required (true or false)"],
      [{ isOk: "yes" }, "params.isOk must be true or false"],
      [{ isOk: true, message: 42 }, "params.message must be a string"],
      [{ isOk: true, delayMs: -1 }, "params.delayMs must be a number of milliseconds between 0 and 900000"],
      [{ isOk: true, delayMs: "10" }, "params.delayMs must be a number"],
      [{ isOk: true, isok: false }, "params.isok is not a known parameter"],
      [{ sequence: [] }, "params.sequence must not be empty"],
      [{ sequence: "true,false" }, "params.sequence must be a list of true/false"],
      [{ sequence: [true, "no"] }, "params.sequence[1] must be true or false"],
      [{ sequence: [true], isOk: true }, "params.sequence cannot be combined with params.isOk"],
      [
        { sequence: [true], sequenceStepMinutes: 0 },
        "params.sequenceStepMinutes must be a positive whole number",
      ],
      [
        { sequence: [true], sequenceStepMinutes: 1.5 },
        "params.sequenceStepMinutes must be a positive whole number",
      ],
    ])("%j", async (params, expected) => {
      const error = await manualCheck.run(context(params)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidParamsError);
      expect((error as Error).message).toContain(expected);
    });
  });

  describe("params.sequence", () => {
    it("picks the outcome by the tick's logical minute", async () => {
      const sequence = [true, false, false];
      const outcomes = [];
      for (let minute = 0; minute < 7; minute++) {
        const result = await manualCheck.run(context({ sequence }, { now: atMinute(minute) }));
        outcomes.push(result.isOk);
      }
      expect(outcomes).toEqual([true, false, false, true, false, false, true]);
    });

    it("holds each step for sequenceStepMinutes", async () => {
      const params = { sequence: [true, false], sequenceStepMinutes: 5 };
      const at = async (minute: number) =>
        (await manualCheck.run(context(params, { now: atMinute(minute) }))).isOk;
      expect(await at(0)).toBe(true);
      expect(await at(4)).toBe(true);
      expect(await at(5)).toBe(false);
      expect(await at(9)).toBe(false);
      expect(await at(10)).toBe(true);
    });

    it("ignores seconds within the minute, so a late tick gets the same answer", async () => {
      const sequence = [true, false];
      const early = await manualCheck.run(context({ sequence }, { now: new Date("2026-11-21T14:05:00Z") }));
      const late = await manualCheck.run(
        context({ sequence }, { now: new Date("2026-11-21T14:05:59.999Z") }),
      );
      expect(early.isOk).toBe(false);
      expect(late.isOk).toBe(early.isOk);
    });

    it("says which step produced the outcome unless params.message is given", async () => {
      const result = await manualCheck.run(context({ sequence: [true, false] }, { now: atMinute(1) }));
      expect(result).toEqual({
        isOk: false,
        message: "Manual check is failing (sequence step 2 of 2 at 1970-01-01T00:01:00.000Z)",
      });
      const custom = await manualCheck.run(context({ sequence: [false], message: "demo flap" }));
      expect(custom).toEqual({ isOk: false, message: "demo flap" });
    });

    it("accepts a DynamoDB set where a list is expected", async () => {
      await expect(manualCheck.run(context({ sequence: new Set([false]) }))).resolves.toMatchObject({
        isOk: false,
      });
    });

    it("always lands inside the sequence, before and after the epoch", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: -8.64e15, max: 8.64e15 }),
          fc.integer({ min: 1, max: 10_080 }),
          fc.integer({ min: 1, max: 50 }),
          (time, step, length) => {
            const index = sequenceIndex(new Date(time), step, length);
            return Number.isInteger(index) && index >= 0 && index < length;
          },
        ),
      );
    });

    it("advances by exactly one step every sequenceStepMinutes", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 10_000_000 }),
          fc.integer({ min: 1, max: 1_440 }),
          fc.integer({ min: 2, max: 20 }),
          (minute, step, length) => {
            const here = sequenceIndex(atMinute(minute), step, length);
            const next = sequenceIndex(atMinute(minute + step), step, length);
            return next === (here + 1) % length;
          },
        ),
      );
    });
  });
});
