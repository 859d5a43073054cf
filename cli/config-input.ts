import {
  CONFIG_DEFAULTS,
  ConfigFieldSchemas,
  type ConfigProblem,
  MonitorIdSchema,
  parseConfigLeniently,
  parseRecipientDomains,
} from "#core/schemas.ts";
import { type CheckDefinition, checks, findCheck } from "#monitors/index.ts";
import { InvalidParamsError, validateParamsBeforeResolution } from "#monitors/support/params.ts";
import { CliError } from "./errors.ts";

/**
 * Turns what an operator types (`--set attr=value`, `--param k=v`, a JSON/YAML file) into a config
 * item, and validates it with the orchestrator's own schemas (parseConfigLeniently) plus the check
 * registry, so that the CLI refuses exactly what the orchestrator would report as broken.
 */

export type ConfigAttribute = keyof typeof ConfigFieldSchemas;
export const CONFIG_ATTRIBUTES = Object.keys(ConfigFieldSchemas) as ConfigAttribute[];

type AttributeKind = "string" | "number" | "boolean" | "list" | "map";

/** The type of each attribute, read off its default so that the two cannot drift apart. */
export function attributeKind(attribute: ConfigAttribute): AttributeKind {
  const sample: unknown = (CONFIG_DEFAULTS as Record<string, unknown>)[attribute];
  if (sample === undefined || typeof sample === "string") return "string";
  if (typeof sample === "number") return "number";
  if (typeof sample === "boolean") return "boolean";
  return Array.isArray(sample) ? "list" : "map";
}

export function isConfigAttribute(name: string): name is ConfigAttribute {
  return Object.hasOwn(ConfigFieldSchemas, name);
}

type Parsed = { ok: true; value: unknown } | { ok: false; message: string };

const BOOLEANS: Record<string, boolean> = { true: true, false: false, yes: true, no: false };

/** `--set attr=value`: the value typed by the attribute (numbers, booleans, lists, JSON maps). */
export function parseAttributeValue(attribute: ConfigAttribute, text: string): Parsed {
  switch (attributeKind(attribute)) {
    case "number": {
      const value = Number(text);
      return text.trim() !== "" && Number.isFinite(value)
        ? { ok: true, value }
        : { ok: false, message: `expects a number, got ${JSON.stringify(text)}` };
    }
    case "boolean": {
      const value = BOOLEANS[text.trim().toLowerCase()];
      return value === undefined
        ? { ok: false, message: `expects true or false, got ${JSON.stringify(text)}` }
        : { ok: true, value };
    }
    case "list": {
      if (text.trim().startsWith("[")) {
        const parsed = parseJson(text);
        return parsed.ok && !Array.isArray(parsed.value)
          ? { ok: false, message: "expects a JSON list or comma-separated values" }
          : parsed;
      }
      return { ok: true, value: splitList(text) };
    }
    case "map": {
      const parsed = parseJson(text);
      if (!parsed.ok) return parsed;
      return isPlainObject(parsed.value)
        ? parsed
        : { ok: false, message: `expects a JSON object such as '{"url":"https://example.org"}'` };
    }
    default:
      return { ok: true, value: text };
  }
}

/** Comma-separated list, blanks dropped (`a@x, b@y,` is two addresses). */
export function splitList(text: string): string[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

function parseJson(text: string): Parsed {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: `is not valid JSON (${(error as Error).message})` };
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A `params` value: JSON when it reads as JSON (`200`, `true`, `["a"]`, `{"k":1}`, `"200"`),
 * otherwise the text itself, so that URLs and names need no quoting.
 */
export function parseParamValue(text: string): unknown {
  const trimmed = text.trim();
  if (/^(-?\d|true$|false$|null$|[[{"])/.test(trimmed)) {
    const parsed = parseJson(trimmed);
    if (parsed.ok) return parsed.value;
  }
  return text;
}

/** Splits `key=value` at the first `=`. */
export function splitAssignment(text: string): { key: string; value: string } | undefined {
  const at = text.indexOf("=");
  if (at <= 0) return undefined;
  return { key: text.slice(0, at).trim(), value: text.slice(at + 1) };
}

export interface ConfigChanges {
  /** Attributes to write, typed. */
  set: Record<string, unknown>;
  /** Attributes to remove (their defaults apply again). */
  unset: string[];
  /** `params.<key>` changes, merged into the current params; undefined removes the key. */
  params: Record<string, unknown>;
  problems: ConfigProblem[];
}

/** Parses `--set attr=value` / `--unset attr` lists; every bad entry is one problem. */
export function parseChanges(assignments: readonly string[], unsets: readonly string[] = []): ConfigChanges {
  const changes: ConfigChanges = { set: {}, unset: [], params: {}, problems: [] };
  for (const text of assignments) {
    const assignment = splitAssignment(text);
    if (!assignment) {
      changes.problems.push({ attribute: text, message: "must be written attr=value" });
      continue;
    }
    const { key, value } = assignment;
    if (key.startsWith("params.") && key.length > "params.".length) {
      changes.params[key.slice("params.".length)] = parseParamValue(value);
      continue;
    }
    if (!isConfigAttribute(key)) {
      changes.problems.push({ attribute: key, message: unknownAttributeMessage(key) });
      continue;
    }
    const parsed = parseAttributeValue(key, value);
    if (parsed.ok) changes.set[key] = parsed.value;
    else changes.problems.push({ attribute: key, message: parsed.message });
  }
  for (const key of unsets) {
    if (key.startsWith("params.") && key.length > "params.".length) {
      changes.params[key.slice("params.".length)] = undefined;
    } else if (isConfigAttribute(key)) {
      changes.unset.push(key);
    } else {
      changes.problems.push({ attribute: key, message: unknownAttributeMessage(key) });
    }
  }
  return changes;
}

/** `--param k=v` entries of `add`. */
export function parseParams(entries: readonly string[]): {
  params: Record<string, unknown>;
  problems: ConfigProblem[];
} {
  const params: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  for (const entry of entries) {
    const assignment = splitAssignment(entry);
    if (assignment) params[assignment.key] = parseParamValue(assignment.value);
    else
      problems.push({ attribute: `params ${JSON.stringify(entry)}`, message: "must be written key=value" });
  }
  return { params, problems };
}

/** The config item after `changes`, as it would be stored (defaults stay implicit). */
export function applyChanges(
  current: Record<string, unknown>,
  changes: ConfigChanges,
): Record<string, unknown> {
  const next: Record<string, unknown> = { ...current, ...changes.set };
  for (const key of changes.unset) delete next[key];
  if (Object.keys(changes.params).length > 0) {
    const params: Record<string, unknown> = isPlainObject(next.params) ? { ...next.params } : {};
    for (const [key, value] of Object.entries(changes.params)) {
      if (value === undefined) delete params[key];
      else params[key] = value;
    }
    next.params = params;
  }
  return next;
}

/** Keys of a stored item that are not config attributes a person wrote. */
const KEY_ATTRIBUTES = new Set(["monitorId", "record"]);

/**
 * All problems of a config item: its id, attributes the orchestrator would ignore (a typo there
 * silently means "default"), the orchestrator's own validation, and an unregistered check.
 */
export function validateConfigItem(
  monitorId: string,
  raw: Record<string, unknown>,
  defaults: { allowedRecipientDomains?: readonly string[] } = {},
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const id = MonitorIdSchema.safeParse(monitorId);
  if (!id.success) {
    problems.push({
      attribute: "monitorId",
      message: `${JSON.stringify(monitorId)} ${id.error.issues.map((issue) => issue.message).join("; ")}`,
    });
  }
  for (const key of Object.keys(raw)) {
    if (!KEY_ATTRIBUTES.has(key) && !isConfigAttribute(key)) {
      problems.push({ attribute: key, message: unknownAttributeMessage(key) });
    }
  }
  // parseConfigLeniently parses the id strictly; its attribute problems do not depend on the id.
  problems.push(...parseConfigLeniently(id.success ? monitorId : "invalid-id", raw, defaults).problems);
  const check = raw.check;
  if (typeof check === "string" && ConfigFieldSchemas.check.safeParse(check).success && !findCheck(check)) {
    problems.push({
      attribute: "check",
      message: `${JSON.stringify(check)} is not a registered check (known: ${[...checks.keys()].sort().join(", ")})`,
    });
  }
  problems.push(...paramsProblems(typeof check === "string" ? findCheck(check) : undefined, raw.params));
  return problems;
}

/** The check's own params validation, run now rather than at the monitor's first tick. */
function paramsProblems(check: CheckDefinition | undefined, params: unknown): ConfigProblem[] {
  if (!check || (params !== undefined && (typeof params !== "object" || params === null))) return [];
  try {
    validateParamsBeforeResolution(check.name, check.paramsSchema, params ?? {});
    return [];
  } catch (error) {
    if (!(error instanceof InvalidParamsError)) throw error;
    // "params.url must be an http(s) URL" -> attribute "params.url", like the other attributes.
    return error.problems.map((problem) => {
      const [, attribute = "params", message = problem] = /^(params\S*) (.*)$/s.exec(problem) ?? [];
      return { attribute, message };
    });
  }
}

function unknownAttributeMessage(key: string): string {
  const suggestion = closest(key, CONFIG_ATTRIBUTES);
  return suggestion
    ? `is not a config attribute (did you mean ${suggestion}?)`
    : `is not a config attribute (known: ${CONFIG_ATTRIBUTES.join(", ")})`;
}

/** The candidate the word abbreviates, or else the one within a small edit distance (case-insensitive). */
function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const prefixed = candidates.filter(
    (candidate) => lower.length >= 4 && candidate.toLowerCase().startsWith(lower),
  );
  if (prefixed.length === 1) return prefixed[0];
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= Math.max(2, Math.floor(candidate.length / 4)) && (!best || distance < best.distance)) {
      best = { candidate, distance };
    }
  }
  return best?.candidate;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * The stack's `allowedRecipientDomains` as the CLI knows it: --allowed-recipient-domains, else
 * WATCHKEEPER_ALLOWED_RECIPIENT_DOMAINS; neither: no restriction (the orchestrator still applies
 * the stack's own). `add`, `edit` and `import` then refuse recipients elsewhere.
 */
export function recipientDomainsOf(
  options: Record<string, unknown>,
  env: Record<string, string | undefined>,
): { allowedRecipientDomains: string[] } {
  const given =
    typeof options.allowedRecipientDomains === "string"
      ? options.allowedRecipientDomains
      : env.WATCHKEEPER_ALLOWED_RECIPIENT_DOMAINS;
  try {
    return { allowedRecipientDomains: parseRecipientDomains(given) };
  } catch (error) {
    throw new CliError(`--allowed-recipient-domains: ${(error as Error).message}`, 2);
  }
}
