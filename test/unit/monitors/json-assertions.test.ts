import { describe, expect, it } from "vitest";
import {
  describeJsonType,
  JsonAssertionSchema,
  JsonAssertionsSchema,
  jsonEqual,
  judgeAssertion,
  judgeJson,
  MAX_MATCHED_LENGTH,
} from "#monitors/support/json-assertions.ts";
import { parsePointer, resolvePointer } from "#monitors/support/json-pointer.ts";

describe("JSON Pointer (RFC 6901)", () => {
  // The example document and pointers of RFC 6901 section 5.
  const document = JSON.parse(
    '{"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\\\j":5,"k\\"l":6," ":7,"m~n":8}',
  );
  it.each([
    ["", document],
    ["/foo", ["bar", "baz"]],
    ["/foo/0", "bar"],
    ["/", 0],
    ["/a~1b", 1],
    ["/c%d", 2],
    ["/e^f", 3],
    ["/g|h", 4],
    ["/i\\j", 5],
    ['/k"l', 6],
    ["/ ", 7],
    ["/m~0n", 8],
  ])("%j", (pointer, expected) => {
    expect(resolvePointer(document, parsePointer(pointer) ?? ["unreachable"])).toEqual({
      found: true,
      value: expected,
    });
  });

  it("decodes ~1 before ~0: ~01 is ~1, not /", () => {
    expect(parsePointer("/~01")).toEqual(["~1"]);
    expect(resolvePointer({ "~1": "tilde-one", "/": "slash" }, ["~1"])).toEqual({
      found: true,
      value: "tilde-one",
    });
  });

  it("refuses what is not a pointer", () => {
    for (const pointer of ["status", "/a~2b", "/a~", "#/status"])
      expect(parsePointer(pointer), pointer).toBeUndefined();
  });

  it("finds nothing past the document, at bad array indexes, or in inherited properties", () => {
    const doc = { items: [{ state: "up" }], n: 1 };
    for (const pointer of [
      "/missing",
      "/items/1",
      "/items/-",
      "/items/01",
      "/items/x",
      "/n/0",
      "/constructor",
      "/__proto__",
      "/items/length",
    ]) {
      expect(resolvePointer(doc, parsePointer(pointer) ?? []), pointer).toEqual({ found: false });
    }
    expect(resolvePointer(JSON.parse('{"__proto__": 5}'), ["__proto__"])).toEqual({ found: true, value: 5 });
    expect(resolvePointer({ a: null }, ["a"])).toEqual({ found: true, value: null });
  });
});

describe("JSON assertions", () => {
  const doc = {
    status: "ok",
    version: "2.14.1",
    checks: { db: { up: true, latencyMs: 12 } },
    queue: [{ depth: 40 }],
    note: null,
    secret: "sk-live-0123456789",
  };
  const judge = (assertion: Record<string, unknown>) =>
    judgeAssertion(doc, JsonAssertionSchema.parse(assertion));

  it("pass when they hold", () => {
    expect(
      judgeJson(
        doc,
        [
          { pointer: "/status", equals: "ok" },
          { pointer: "/checks/db", equals: { latencyMs: 12, up: true } },
          { pointer: "/version", matches: "^2\\.\\d+" },
          { pointer: "/note", exists: true },
          { pointer: "/debug", exists: false },
          { pointer: "/queue/0/depth", greaterThan: 0, lessThan: 100 },
          { pointer: "/note", equals: null },
        ].map((assertion) => JsonAssertionSchema.parse(assertion)),
      ),
    ).toEqual([]);
  });

  it("name the pointer and what was expected, and describe what was found by type only", () => {
    expect(judge({ pointer: "/status", equals: "degraded" })).toEqual([
      'json "/status" does not equal "degraded" (found a string of 2 characters)',
    ]);
    expect(judge({ pointer: "/secret", equals: "x" })[0]).not.toContain("sk-live");
    expect(judge({ pointer: "/secret", matches: "^pk-" })).toEqual([
      'json "/secret" does not match /^pk-/ (found a string of 18 characters)',
    ]);
    expect(judge({ pointer: "/checks/db/latencyMs", lessThan: 10 })).toEqual([
      'json "/checks/db/latencyMs" is not less than 10 (found a number)',
    ]);
    expect(judge({ pointer: "/queue/0/depth", greaterThan: 40 })).toEqual([
      'json "/queue/0/depth" is not greater than 40 (found a number)',
    ]);
    expect(judge({ pointer: "/status", greaterThan: 1 })).toEqual([
      'json "/status" is not greater than 1 (found a string of 2 characters)',
    ]);
    expect(judge({ pointer: "/checks/db/latencyMs", matches: "12" })).toEqual([
      'json "/checks/db/latencyMs" does not match /12/ (found a number)',
    ]);
    expect(judge({ pointer: "/missing", equals: 1 })).toEqual(['json "/missing" is missing']);
    expect(judge({ pointer: "/checks", exists: false })).toEqual([
      'json "/checks" exists, expected it absent (found an object with 1 key)',
    ]);
    expect(judge({ pointer: "/queue", equals: [] })).toEqual([
      'json "/queue" does not equal [] (found a list of 1 item)',
    ]);
  });

  it("compare JSON values by content", () => {
    expect(jsonEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
    expect(jsonEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual("1", 1)).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
  });

  it("describe types", () => {
    expect([null, true, 1, "ab", [1], { a: 1, b: 2 }].map(describeJsonType)).toEqual([
      "null",
      "a boolean",
      "a number",
      "a string of 2 characters",
      "a list of 1 item",
      "an object with 2 keys",
    ]);
  });
});

describe("`matches` cannot stall the orchestrator (catastrophic backtracking)", () => {
  // Patterns on which JavaScript's backtracking engine takes exponential (or cubic and worse) time
  // on a hostile 4 KiB value, synchronously, past the check's timeout. RE2 answers in linear time:
  // each of these would not return within the test's timeout under \`new RegExp\`.
  const hostile = `${"a".repeat(4000)}!`;
  it.each([
    ["(a+)+$", hostile, false],
    ["^(a|aa)+$", hostile, false],
    ["^(\\w+\\s?)*$", hostile, false],
    ["a*a*a*a*a*b", "a".repeat(4096), false],
    ["(a+)+$", "a".repeat(4000), true],
  ] as const)("judges %s on a hostile value", (pattern, value, matches) => {
    expect(JsonAssertionsSchema.safeParse([{ pointer: "/v", matches: pattern }]).success).toBe(true);
    expect(judgeAssertion({ v: value }, { pointer: "/v", matches: pattern })).toHaveLength(matches ? 0 : 1);
  });

  it("judges a pattern written for JavaScript as JavaScript would (\\s, ., \\u, [^], named groups)", () => {
    const cases: Array<[string, string[]]> = [
      ["^Price:\\s\\d+$", ["Price: 100", "Price:\u00a0100", "Price:\u2003100", "Price:\t100", "Price:x100"]],
      ["^a\\Sb$", ["axb", "a b", "a\u00a0b"]],
      ["^[\\s,]+$", [" , ", "\u00a0,", "x"]],
      ["^line1.$", ["line1x", "line1\r", "line1\n", "line1\u2028"]],
      ["[.]", ["a.b", "ab"]],
      ["^caf\\u00e9$", ["café", "cafe"]],
      ["^[^]$", ["x", "\n"]],
      ["^(?<year>\\d{4})-\\d{2}$", ["2026-11", "26-11"]],
      ["^(GREEN|YELLOW)$", ["GREEN", "RED"]],
      ["^\\w+@\\w+\\.org$", ["ops@example.org", "ops@example.com"]],
      ["^\\x41\\cA$", ["A\u0001", "A"]],
      // A dash beside \s in a class is a plain dash.
      ["^[\\s-z]+$", [" -z", "a"]],
      ["^[a-\\s]+$", ["a- ", "b"]],
    ];
    for (const [pattern, values] of cases)
      for (const value of values)
        expect(
          judgeAssertion({ v: value }, { pointer: "/v", matches: pattern }).length === 0,
          `${pattern} on ${JSON.stringify(value)}`,
        ).toBe(new RegExp(pattern).test(value));
  });

  it("takes RE2 syntax, and refuses what RE2 cannot run, saying why", () => {
    for (const pattern of ["^ok$", "^v\\d+\\.\\d+$", "(?i)^green$", "^(GREEN|YELLOW)$"])
      expect(JsonAssertionsSchema.safeParse([{ pointer: "/v", matches: pattern }]).success, pattern).toBe(
        true,
      );
    expect(judgeAssertion({ v: "GREEN" }, { pointer: "/v", matches: "(?i)^green$" })).toEqual([]);
    for (const [pattern, words] of [
      ["(?=a)b", "invalid or unsupported Perl syntax"],
      ["(a)\\1", "backreferences (\\1) have no linear-time form"],
      ["^(?<q>[\"'])ok\\k<q>$", "backreferences (\\k) have no linear-time form"],
      ["^\\u{2}$", "\\u{…} needs JavaScript's u flag, which matches does not use: write \\uXXXX"],
      ["^[\\S\\d]$", "\\S inside [...] cannot be matched as JavaScript does: write (?:[...]|\\S)"],
      ["^\\Aok\\z$", "\\A is the letter A in JavaScript and something else in RE2: write A"],
      ["(a", "missing closing )"],
    ]) {
      const parsed = JsonAssertionsSchema.safeParse([{ pointer: "/v", matches: pattern }]);
      expect(parsed.success, pattern).toBe(false);
      const messages = (parsed.error?.issues ?? []).map((issue) => issue.message).join("\n");
      expect(messages).toContain("RE2 syntax (no lookaround, no backreferences)");
      expect(messages).toContain(words);
    }
  });

  it("runs a pattern on the first 4 KiB of a value only", () => {
    const value = `${"x".repeat(MAX_MATCHED_LENGTH)}needle`;
    expect(judgeAssertion({ v: value }, { pointer: "/v", matches: "needle" })).toHaveLength(1);
    expect(judgeAssertion({ v: `needle${value}` }, { pointer: "/v", matches: "needle" })).toEqual([]);
  });
});
