import { describe, expect, it } from "vitest";
import * as z from "zod";
import { parseTimestamp } from "#monitors/dynamodb-freshness.ts";
import { regionOfQueueUrl } from "#monitors/sqs-queue-empty.ts";
import { regionalClients } from "#monitors/support/clients.ts";
import { errorText, formatBytes, formatDuration, plural, quote } from "#monitors/support/format.ts";
import { InvalidParamsError, parseParams } from "#monitors/support/params.ts";

describe("parseParams", () => {
  const schema = z.strictObject({
    target: z.strictObject({ name: z.string({ error: "must be a string" }) }),
    "odd key": z.number().optional(),
    list: z.array(z.number({ error: "must be a number" })).optional(),
  });

  it("returns the parsed params", () => {
    expect(parseParams("demo", schema, { target: { name: "x" } })).toEqual({ target: { name: "x" } });
  });

  it("names every bad param by its path under params", () => {
    const error = (() => {
      try {
        parseParams("demo", schema, { target: { name: 1 }, "odd key": "x", list: [1, "2"], extra: true });
      } catch (caught) {
        return caught;
      }
    })() as InvalidParamsError;
    expect(error).toBeInstanceOf(InvalidParamsError);
    expect(error.name).toBe("InvalidParamsError");
    expect(error.check).toBe("demo");
    expect(error.problems).toEqual([
      "params.target.name must be a string",
      'params["odd key"] Invalid input: expected number, received string',
      "params.list[1] must be a number",
      "params.extra is not a known parameter",
    ]);
    expect(error.message).toBe(error.problems.join("; "));
  });

  it("says 'is required' for a missing param", () => {
    expect(() => parseParams("demo", schema, {})).toThrow("params.target is required");
  });

  it("treats absent params as an empty map", () => {
    expect(() => parseParams("demo", schema, undefined)).toThrow("params.target is required");
  });
});

describe("formatting", () => {
  it.each([
    [0, "0s"],
    [59_999, "59s"],
    [60_000, "1m"],
    [90 * 60_000, "1h30m"],
    [(3 * 60 + 12) * 60_000, "3h12m"],
    [2 * 3_600_000, "2h"],
    [(2 * 24 + 4) * 3_600_000, "2d4h"],
    [3 * 86_400_000, "3d"],
    [-5 * 60_000, "5m"],
  ])("formatDuration(%d) = %s", (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it("formats bytes, plurals, quotes and errors", () => {
    expect(formatBytes(15)).toBe("15 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(1024 * 1024)).toBe("1 MiB");
    expect(plural(1, "message")).toBe("1 message");
    expect(plural(3, "message")).toBe("3 messages");
    expect(quote("x".repeat(100), 5)).toBe('"xxxxx…"');
    expect(errorText(Object.assign(new Error("denied"), { name: "AccessDeniedException" }))).toBe(
      "AccessDeniedException: denied",
    );
    expect(errorText(new Error("plain"))).toBe("plain");
    expect(errorText("text")).toBe("text");
  });
});

describe("parseTimestamp", () => {
  const iso = (value: unknown) => {
    const parsed = parseTimestamp(value);
    return parsed.ok ? parsed.date.toISOString() : parsed.problem;
  };

  it.each([
    ["2026-11-21T14:05:00Z", "2026-11-21T14:05:00.000Z"],
    ["2026-11-21T14:05:00.123456Z", "2026-11-21T14:05:00.123Z"],
    ["2026-11-21T15:05:00+01:00", "2026-11-21T14:05:00.000Z"],
    ["2026-11-21T15:05:00+0100", "2026-11-21T14:05:00.000Z"],
    ["2026-11-21T09:05:00-05", "2026-11-21T14:05:00.000Z"],
    ["2026-11-21T14:05:00", "2026-11-21T14:05:00.000Z"], // no zone: UTC, whatever TZ says
    ["2026-11-21 14:05", "2026-11-21T14:05:00.000Z"],
    ["2026-11-21", "2026-11-21T00:00:00.000Z"],
    [1_795_269_900, "2026-11-21T14:05:00.000Z"], // epoch seconds
    [1_795_269_900_123, "2026-11-21T14:05:00.123Z"], // epoch milliseconds
    ["1795269900", "2026-11-21T14:05:00.000Z"], // numeric string
    [1_795_269_900.5, "2026-11-21T14:05:00.500Z"],
  ])("reads %j", (value, expected) => {
    expect(iso(value)).toBe(expected);
  });

  it.each([
    ["yesterday", "is a string of 9 characters, not an ISO-8601 time or epoch seconds/milliseconds"],
    ["", "is an empty string"],
    ["x", "is a string of 1 character,"],
    ["2026-13-45T99:99Z", "not an ISO-8601 time"],
    [true, "is boolean, not an ISO-8601 string or epoch number"],
    [null, "is null"],
    [["2026-11-21"], "is a list"],
    [{ at: 1 }, "is object"],
    [1e15, "is not a plausible epoch time in seconds or milliseconds"],
  ])("rejects %j", (value, expected) => {
    expect(iso(value)).toContain(expected);
  });

  it.each([
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "password=hunter2",
    "2026-13-45T99:99Z", // looks like a time, is not one: still not echoed
    "\u001b]0;pwned\u0007",
  ])("never echoes the rejected value %j", (value) => {
    const problem = iso(value);
    expect(problem).toMatch(/^is a string of \d+ characters?, not an ISO-8601 time/);
    expect(problem).not.toContain(value);
    expect(problem).not.toContain(value.slice(0, 6));
  });
});

describe("regionOfQueueUrl", () => {
  it.each([
    ["https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq", "eu-west-1"],
    ["https://eu-central-2.queue.amazonaws.com/123456789012/q", "eu-central-2"],
    ["https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1"],
    ["https://sqs.us-gov-west-1.amazonaws.com/123456789012/q", "us-gov-west-1"],
    ["http://127.0.0.1:9324/000000000000/q", undefined],
    ["https://queue.amazonaws.com/123456789012/q", undefined],
  ])("%s -> %s", (url, region) => {
    expect(regionOfQueueUrl(url)).toBe(region);
  });
});

describe("regionalClients", () => {
  it("creates one client per region, lazily, and reuses it", () => {
    const created: (string | undefined)[] = [];
    const clientFor = regionalClients((region) => {
      created.push(region);
      return { region };
    });
    expect(created).toEqual([]);
    const first = clientFor("eu-west-1");
    expect(clientFor("eu-west-1")).toBe(first);
    expect(clientFor(undefined)).not.toBe(first);
    expect(clientFor(undefined)).toBe(clientFor(undefined));
    expect(created).toEqual(["eu-west-1", undefined]);
  });
});
