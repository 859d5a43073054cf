import { RE2JS } from "re2js";
import * as z from "zod/mini";
import { preprocess } from "#core/validation.ts";
import { plural, quote } from "./format.ts";
import { parsePointer, resolvePointer } from "./json-pointer.ts";
import { must, mustBe } from "./params.ts";

/**
 * Assertions on a JSON document (the `http` check's `json` param): each names a value by JSON
 * Pointer (RFC 6901) and says what it must be. Failure messages name the pointer and what was
 * expected, and describe what was found by its type and size only: a response body is data
 * from elsewhere, and a message ends up in emails and state items.
 */

export const MAX_JSON_ASSERTIONS = 20;

const OPERATORS = ["equals", "matches", "exists", "greaterThan", "lessThan"] as const;

/** Longest `matches` pattern, and the most of a value it is run on (its first characters). */
const MAX_PATTERN_LENGTH = 200;
export const MAX_MATCHED_LENGTH = 4096;

// JavaScript's \s: ASCII whitespace, the no-break spaces, the Unicode space separators, the line
// and paragraph separators and the BOM (RE2's \s is ASCII whitespace only).
const JS_WHITESPACE =
  "\\t\\n\\v\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}\\x{feff}";
// JavaScript's `.` without the s flag: anything but a line terminator (RE2's: anything but \n).
const JS_DOT = "[^\\n\\r\\x{2028}\\x{2029}]";

// Letters JavaScript gives a meaning when escaped (without the u flag); any other escaped letter is
// that letter there, and often something else in RE2 (\A, \z, \Q, \p{L}...).
const JS_LETTER_ESCAPES = new Set("dDwWsSbBnrtvfcxu");

/**
 * What in a pattern written for JavaScript has no faithful RE2 form: backreferences (`\1`,
 * `\k<name>`), `\u{…}` (JavaScript reads it as `u` repeated without the u flag), a letter escaped
 * for nothing, and `\S` inside a class (RE2's is ASCII-only there, and a class cannot hold
 * JavaScript's). Lookaround is refused by RE2 itself.
 */
function jsOnlyProblem(pattern: string): string | undefined {
  let inClass = false;
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index];
    if (char === "\\") {
      const next = pattern[++index] ?? "";
      if (/[1-9]/.test(next) || next === "k") return `backreferences (\\${next}) have no linear-time form`;
      if (next === "u" && pattern[index + 1] === "{")
        return "\\u{…} needs JavaScript's u flag, which matches does not use: write \\uXXXX";
      if (next === "S" && inClass)
        return "\\S inside [...] cannot be matched as JavaScript does: write (?:[...]|\\S)";
      if (/[A-Za-z]/.test(next) && !JS_LETTER_ESCAPES.has(next))
        return `\\${next} is the letter ${next} in JavaScript and something else in RE2: write ${next}`;
    } else if (inClass) {
      if (char === "]") inClass = false;
    } else if (char === "[") {
      inClass = true;
      if (pattern[index + 1] === "^") index++;
    }
  }
  return undefined;
}

/**
 * A pattern written for JavaScript, in RE2 syntax with JavaScript's meaning: RE2JS's own
 * translation (`\uXXXX`, `[^]`, named groups, `\cX`), then `\s`, `\S` and `.` as JavaScript reads
 * them, so that a pattern written before RE2 judged values keeps judging them the same way.
 * Lookaround and backreferences have no RE2 form and stay refused (jsOnlyProblem).
 */
function jsPatternForRe2(pattern: string): string {
  const source = RE2JS.translateRegExp(pattern);
  let out = "";
  let inClass = false;
  let classStart = 0;
  for (let index = 0; index < source.length; index++) {
    const char = source[index] ?? "";
    if (char === "\\") {
      const next = source[index + 1] ?? "";
      index++;
      if (next === "s" && inClass) {
        // A `-` beside a class escape is a plain dash in JavaScript, never a range.
        if (out.endsWith("-") && !out.endsWith("\\-") && out.length > classStart)
          out = `${out.slice(0, -1)}\\-`;
        out += JS_WHITESPACE;
        if (source[index + 1] === "-" && source[index + 2] !== "]") {
          out += "\\-";
          index++;
        }
      } else if (next === "s") out += `[${JS_WHITESPACE}]`;
      else if (next === "S" && !inClass) out += `[^${JS_WHITESPACE}]`;
      else out += char + next;
    } else if (inClass) {
      if (char === "]") inClass = false;
      out += char;
    } else if (char === "[") {
      inClass = true;
      out += char;
      if (source[index + 1] === "^") out += source[++index];
      classStart = out.length;
    } else out += char === "." ? JS_DOT : char;
  }
  return out;
}

/**
 * A `matches` pattern compiled by RE2JS, a port of RE2: matching takes time linear in the value,
 * whatever the pattern (`(a+)+$`, `a*a*a*b`), where JavaScript's backtracking engine can take
 * exponential time, synchronously, past the check's timeout (run-check.ts cannot interrupt it).
 * Written as for JavaScript (jsPatternForRe2). Undefined when it cannot be run so (re2Problem).
 */
export function compileMatcher(pattern: string): RE2JS | undefined {
  if (jsOnlyProblem(pattern) !== undefined) return undefined;
  try {
    return RE2JS.compile(jsPatternForRe2(pattern));
  } catch {
    return undefined;
  }
}

/** Why a pattern cannot be run as JavaScript reads it, in the words of RE2 where it refuses. */
function re2Problem(pattern: string): string | undefined {
  const jsOnly = jsOnlyProblem(pattern);
  if (jsOnly !== undefined) return jsOnly;
  try {
    RE2JS.compile(jsPatternForRe2(pattern));
    return undefined;
  } catch (translated) {
    // Quote the pattern as written when RE2 refuses it as written too.
    let error = translated;
    try {
      RE2JS.compile(pattern);
    } catch (raw) {
      error = raw;
    }
    return (error as Error).message.replace(/^error parsing regexp: /, "");
  }
}

const POINTER_MESSAGE = 'must be a JSON Pointer such as "/status" or "/items/0/state" (RFC 6901)';

export const JsonAssertionSchema = z
  .strictObject(
    {
      /** Where the value is: `/status`, `/items/0/state`, `""` for the whole document. */
      pointer: z
        .string({ error: must(POINTER_MESSAGE) })
        .check(z.refine((pointer) => parsePointer(pointer) !== undefined, POINTER_MESSAGE)),
      /** The value must equal this JSON value (objects compared by content, key order aside). */
      equals: z.optional(preprocess((value) => (value instanceof Set ? [...value] : value), z.unknown())),
      /** The value must be a string matching this regular expression (RE2 syntax, linear time). */
      matches: z.optional(
        z.string({ error: must("must be a regular expression (a string)") }).check(
          z.maxLength(MAX_PATTERN_LENGTH, `must be at most ${MAX_PATTERN_LENGTH} characters`),
          z.superRefine((pattern, ctx) => {
            const problem = re2Problem(pattern);
            if (problem !== undefined)
              ctx.addIssue({
                code: "custom",
                message: `must be a regular expression in RE2 syntax (no lookaround, no backreferences): ${problem}`,
              });
          }),
        ),
      ),
      /** true: the value must be there (null counts); false: it must not. */
      exists: z.optional(z.boolean({ error: must("must be true or false") })),
      /** The value must be a number greater than this. */
      greaterThan: z.optional(z.number({ error: must("must be a number") })),
      /** The value must be a number less than this. */
      lessThan: z.optional(z.number({ error: must("must be a number") })),
    },
    { error: mustBe('must be an assertion such as { "pointer": "/status", "equals": "ok" }') },
  )
  .check(
    z.superRefine((assertion, ctx) => {
      const given = OPERATORS.filter(
        (operator) => operator in assertion && assertion[operator] !== undefined,
      );
      if (given.length === 0) {
        ctx.addIssue({ code: "custom", message: `needs one of ${OPERATORS.join(", ")}` });
      } else if (assertion.exists === false && given.length > 1) {
        ctx.addIssue({
          code: "custom",
          path: ["exists"],
          message: "false cannot be combined with other tests",
        });
      }
    }),
  );
export type JsonAssertion = z.infer<typeof JsonAssertionSchema>;

export const JsonAssertionsSchema = z
  .array(JsonAssertionSchema, { error: must("must be a list of assertions") })
  .check(
    z.minLength(1, "must not be empty"),
    z.maxLength(MAX_JSON_ASSERTIONS, `must hold at most ${MAX_JSON_ASSERTIONS} assertions`),
  );

/** What a value is, without what it says: `a string of 8 characters`, `a number`, `null`. */
export function describeJsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list of ${plural(value.length, "item")}`;
  switch (typeof value) {
    case "string":
      return `a string of ${plural(value.length, "character")}`;
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "object":
      return `an object with ${plural(Object.keys(value).length, "key")}`;
    default:
      return typeof value;
  }
}

/** Equality of JSON values: same type, same content, object keys in any order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((item, index) => jsonEqual(item, b[index]))
    );
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const aKeys = Object.keys(a);
  const bRecord = b as Record<string, unknown>;
  return (
    aKeys.length === Object.keys(b).length &&
    aKeys.every(
      (key) => Object.hasOwn(b, key) && jsonEqual((a as Record<string, unknown>)[key], bRecord[key]),
    )
  );
}

/** A JSON value as params wrote it, shortened so one odd value cannot flood an email. */
function jsonText(value: unknown, max = 80): string {
  const text = JSON.stringify(value) ?? "null";
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** The problems of one assertion on `document` (empty when it holds). */
export function judgeAssertion(document: unknown, assertion: JsonAssertion): string[] {
  const name = `json ${quote(assertion.pointer, 60)}`;
  const found = resolvePointer(document, parsePointer(assertion.pointer) ?? []);
  if (!found.found) return assertion.exists === false ? [] : [`${name} is missing`];
  const { value } = found;
  const what = `(found ${describeJsonType(value)})`;
  if (assertion.exists === false) return [`${name} exists, expected it absent ${what}`];
  const problems: string[] = [];
  if ("equals" in assertion && assertion.equals !== undefined && !jsonEqual(value, assertion.equals)) {
    problems.push(`${name} does not equal ${jsonText(assertion.equals)} ${what}`);
  }
  if (assertion.matches !== undefined) {
    // Linear time (RE2) on bounded input: a match runs synchronously, past the check's abort signal.
    const matcher = compileMatcher(assertion.matches);
    if (
      typeof value !== "string" ||
      !matcher ||
      !matcher.matcher(value.slice(0, MAX_MATCHED_LENGTH)).find()
    ) {
      // The source escaped as in JSON (no raw control character), between slashes.
      problems.push(`${name} does not match /${jsonText(assertion.matches).slice(1, -1)}/ ${what}`);
    }
  }
  if (assertion.greaterThan !== undefined && !(typeof value === "number" && value > assertion.greaterThan)) {
    problems.push(`${name} is not greater than ${assertion.greaterThan} ${what}`);
  }
  if (assertion.lessThan !== undefined && !(typeof value === "number" && value < assertion.lessThan)) {
    problems.push(`${name} is not less than ${assertion.lessThan} ${what}`);
  }
  return problems;
}

/** The problems of every assertion, in order. */
export function judgeJson(document: unknown, assertions: readonly JsonAssertion[]): string[] {
  return assertions.flatMap((assertion) => judgeAssertion(document, assertion));
}
