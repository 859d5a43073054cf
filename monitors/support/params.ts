import * as z from "zod/mini";
import {
  findSecretRefs,
  issueStandsBeforeResolution,
  paramPath,
  secretRefProblems,
  withSecretPlaceholders,
} from "#core/secrets.ts";
import { preprocess } from "#core/validation.ts";

/**
 * Parameter validation shared by the checks. Every message names the parameter as a person wrote
 * it in the config item (`params.url`, `params.partitionKey.value`), because that message ends up
 * in an alert email and is the only hint the monitor's owner gets.
 */

/** The monitor's `params` do not fit the check: a configuration problem, not an outage. */
export class InvalidParamsError extends Error {
  override name = "InvalidParamsError";
  constructor(
    readonly check: string,
    readonly problems: readonly string[],
  ) {
    super(problems.join("; "));
  }
}

/**
 * A schema-level message that leaves a missing value to the parse-level "is required": zod
 * otherwise reports "must be a number" for a parameter that was simply left out.
 */
export function must(message: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? undefined : message);
}

/**
 * Like `must`, but only for a value of the wrong type: a container (map, list) keeps the messages
 * of its entries, which name the entry.
 */
export function mustBe(message: string) {
  return (issue: { code?: string; input?: unknown }) =>
    issue.code === "invalid_type" && issue.input !== undefined ? message : undefined;
}

const pathOf = paramPath;

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    // Strict objects turn a typo (`maxAgeMinute`) into an error instead of a silent default.
    return issue.keys.map((key) => `${pathOf([...issue.path, key])} is not a known parameter`).join("; ");
  }
  if (issue.code === "invalid_key") {
    // A bad map key (e.g. a header name): the key schema's own message says what is wrong.
    return `${pathOf(issue.path)} ${issue.issues.map((inner) => inner.message).join("; ")}`;
  }
  return `${pathOf(issue.path)} ${issue.message}`;
}

/**
 * DynamoDB string and number sets (SS / NS) unmarshal to `Set`s; a person who typed a list in the
 * console as a set means the same list.
 */
export function listOrSet<T extends z.core.SomeType>(item: T, message: string, minItems = 0) {
  const list = z.array(item, { error: must(message) });
  return preprocess(
    (value) => (value instanceof Set ? [...value] : value),
    minItems > 0 ? list.check(z.minLength(minItems, "must not be empty")) : list,
  );
}

const requiredMessage = (issue: { input?: unknown; code?: string }) =>
  issue.input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_union")
    ? "is required"
    : undefined;

/** Validates `params` or throws InvalidParamsError naming every bad parameter. */
export function parseParams<T extends z.core.$ZodType>(
  check: string,
  schema: T,
  params: unknown,
): z.output<T> {
  const parsed = z.safeParse(schema, params ?? {}, { error: requiredMessage });
  if (parsed.success) return parsed.data;
  throw new InvalidParamsError(check, parsed.error.issues.map(describeIssue));
}

/**
 * Validates params as written in a config item, before any secret is resolved (the CLI's
 * add/edit/import): malformed `{"secretRef": ...}` references are problems, and the schema sees a
 * placeholder string at each reference, whose format it cannot judge yet (functions/core/secrets.ts).
 * Throws InvalidParamsError naming every bad parameter.
 */
export function validateParamsBeforeResolution(
  check: string,
  schema: z.core.$ZodType | undefined,
  params: unknown,
): void {
  const refProblems = secretRefProblems(params).map(({ path, message }) => `${path} ${message}`);
  if (refProblems.length > 0) throw new InvalidParamsError(check, refProblems);
  if (!schema) return;
  const refPaths = findSecretRefs(params).map(({ path }) => path);
  const parsed = z.safeParse(schema, withSecretPlaceholders(params ?? {}), { error: requiredMessage });
  if (parsed.success) return;
  const problems = parsed.error.issues
    .filter((issue) => issueStandsBeforeResolution(issue, refPaths))
    .map(describeIssue);
  if (problems.length > 0) throw new InvalidParamsError(check, problems);
}
