import { describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { runCheck } from "#core/run-check.ts";
import type { CheckDefinition } from "../../../monitors/types.ts";

const define = (run: CheckDefinition["run"]): CheckDefinition => ({ name: "t", description: "test", run });
const input = (check: CheckDefinition | undefined, timeoutMs = 50) => ({
  monitorId: "m",
  checkName: "t",
  check,
  params: { a: 1 },
  timeoutMs,
  now: new Date("2026-03-01T06:00:00Z"),
  timezone: "Europe/Paris",
  logger: silentLogger,
});

describe("runCheck", () => {
  it("passes params, the logical now and an AbortSignal to the check", async () => {
    let seen: unknown;
    const outcome = await runCheck(
      input(
        define(async (ctx) => {
          seen = {
            params: ctx.params,
            now: ctx.now.toISOString(),
            timezone: ctx.timezone,
            aborted: ctx.signal.aborted,
          };
          return { isOk: true, message: "fine" };
        }),
      ),
    );
    expect(outcome).toMatchObject({ isOk: true, message: "fine" });
    expect(seen).toEqual({
      params: { a: 1 },
      now: "2026-03-01T06:00:00.000Z",
      timezone: "Europe/Paris",
      aborted: false,
    });
  });

  it("reports an unknown check", async () => {
    expect((await runCheck(input(undefined))).message).toMatch(/Unknown check "t"/);
  });

  it.each([
    ["an Error", new Error("boom"), /threw: Error: boom/],
    ["a string", "kaput", /threw: kaput/],
    ["null", null, /threw: null was thrown/],
    ["undefined", undefined, /threw: undefined was thrown/],
  ])("turns a check that throws %s into a failure", async (_label, thrown, message) => {
    const outcome = await runCheck(
      input(
        define(async () => {
          throw thrown;
        }),
      ),
    );
    expect(outcome).toMatchObject({ isOk: false, message: expect.stringMatching(message) });
  });

  it("catches a check that throws synchronously", async () => {
    const outcome = await runCheck(
      input({
        name: "t",
        description: "",
        run: () => {
          throw new Error("sync");
        },
      }),
    );
    expect(outcome.message).toMatch(/threw: Error: sync/);
  });

  it.each([
    ["undefined", undefined],
    ["a string", "ok"],
    ["isOk as a string", { isOk: "true", message: "x" }],
    ["no message", { isOk: true }],
    ["null", null],
  ])("rejects a garbage return value (%s)", async (_label, value) => {
    const outcome = await runCheck(input(define(async () => value as never)));
    expect(outcome).toMatchObject({ isOk: false, message: expect.stringMatching(/invalid result/) });
  });

  it("wins against a check that never settles and ignores its signal", async () => {
    const outcome = await runCheck(
      input(
        define(() => new Promise(() => {})),
        30,
      ),
    );
    expect(outcome).toMatchObject({ isOk: false, message: 'Check "t" timed out after 0.03 s' });
  });

  it("aborts the signal at the timeout and ignores a late result", async () => {
    let aborted = false;
    const outcome = await runCheck(
      input(
        define(
          (ctx) =>
            new Promise((resolve) => {
              ctx.signal.addEventListener("abort", () => {
                aborted = true;
                setTimeout(() => resolve({ isOk: true, message: "late but fine" }), 5);
              });
            }),
        ),
        20,
      ),
    );
    expect(aborted).toBe(true);
    expect(outcome.isOk).toBe(false);
    expect(outcome.message).toMatch(/timed out/);
  });

  it("truncates a megabyte message", async () => {
    const outcome = await runCheck(
      input(define(async () => ({ isOk: false, message: "y".repeat(1_000_000) }))),
    );
    expect(outcome.message.length).toBe(4_000);
    expect(outcome.message).toContain("[truncated: 1000000 characters in total]");
  });
});
