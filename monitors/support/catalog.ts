import * as z from "zod";
import type { CheckDefinition } from "../types.ts";

/**
 * What a check's params are, read off its zod schema (through zod's JSON Schema conversion, so
 * that wrappers such as `.optional()`, `.default()` and `z.preprocess` need no special case), for
 * `watchkeeper checks`, the docs and the registry test. Works for any CheckDefinition: a schema
 * that is not an object (or has none) simply lists no params.
 *
 * Imported by the CLI and tests only; the orchestrator never needs it (the param descriptions
 * themselves do ride in its bundle: about 3.6 KB minified for the four original checks).
 *
 * Per-param documentation lives on the schema, as zod metadata:
 * `.meta({ description: "...", defaultText: "..." })`. `description` says what the param does
 * (units, format); `defaultText` says, for an optional param without `.default(value)`, what
 * leaving it out means ("any 2xx", "the SDK's region"). A `.default(value)` is shown as is.
 */

declare module "zod" {
  interface GlobalMeta {
    /** What leaving an optional param out means, in words (when it has no `.default(value)`). */
    defaultText?: string;
  }
}

/** One param as `watchkeeper checks` shows it. */
export interface ParamInfo {
  name: string;
  /** The accepted values, e.g. `string`, `integer (100 to 599) | list of integer`, `"GET" | "HEAD"`. */
  type: string;
  required: boolean;
  /** The schema's `.default(value)`, when it has one. */
  hasDefault: boolean;
  default?: unknown;
  /** What leaving it out means, in words (`defaultText`). */
  defaultText?: string;
  description?: string;
}

/** Recipient of the examples: example.org is reserved for documentation (RFC 2606). */
export const EXAMPLE_RECIPIENT = "oncall@example.org";
export const EXAMPLE_SCHEDULE = "rate(5 minutes)";

type JsonSchema = Record<string, unknown>;

const isObject = (value: unknown): value is JsonSchema =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** The params schema as JSON Schema (the input side), or undefined without a schema. */
export function paramsJsonSchema(check: CheckDefinition): JsonSchema | undefined {
  if (!check.paramsSchema) return undefined;
  try {
    // "any" for what JSON Schema cannot express (a custom type, a Date): the listing still works.
    return z.toJSONSchema(check.paramsSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  } catch {
    // Not convertible at all: the check lists no params (and the registry test says so).
    return undefined;
  }
}

/** The object schemas a params schema accepts: itself, or the branches of a top-level union. */
function objectBranches(schema: JsonSchema): JsonSchema[] {
  if (isObject(schema.properties)) return [schema];
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants)) return variants.filter(isObject).flatMap(objectBranches);
  if (Array.isArray(schema.allOf)) {
    // An intersection: every part's params apply at once.
    const parts = schema.allOf.filter(isObject).flatMap(objectBranches);
    return parts.length === 0
      ? []
      : [
          {
            properties: Object.assign({}, ...parts.map((part) => part.properties)),
            required: parts.flatMap((part) => (Array.isArray(part.required) ? part.required : [])),
          },
        ];
  }
  return [];
}

/** Every param of a check, in schema order; for a union of objects, a param is required when every branch requires it. */
export function describeParams(check: CheckDefinition): ParamInfo[] {
  const schema = paramsJsonSchema(check);
  if (!schema) return [];
  const branches = objectBranches(schema);
  const names = [...new Set(branches.flatMap((branch) => Object.keys(branch.properties as JsonSchema)))];
  return names.map((name) => {
    const holders = branches.filter((branch) => Object.hasOwn(branch.properties as JsonSchema, name));
    const property = holders.map((branch) => (branch.properties as JsonSchema)[name]).find(isObject) ?? {};
    const required =
      branches.length > 0 &&
      branches.every((branch) => Array.isArray(branch.required) && branch.required.includes(name));
    const info: ParamInfo = {
      name,
      type: unique(
        holders.map((branch) => typeText((branch.properties as JsonSchema)[name] as JsonSchema)),
      ).join(" | "),
      required,
      hasDefault: Object.hasOwn(property, "default"),
    };
    if (info.hasDefault) info.default = property.default;
    const meta = metaOf(property);
    if (meta.defaultText !== undefined) info.defaultText = meta.defaultText;
    if (meta.description !== undefined) info.description = meta.description;
    return info;
  });
}

/** Description and defaultText, wherever the conversion put them (a wrapper may nest the field). */
function metaOf(property: JsonSchema): { description?: string; defaultText?: string } {
  const found: { description?: string; defaultText?: string } = {};
  const visit = (node: unknown, depth: number) => {
    if (!isObject(node) || depth > 3) return;
    if (found.description === undefined && typeof node.description === "string" && node.description.trim())
      found.description = node.description.trim();
    if (found.defaultText === undefined && typeof node.defaultText === "string" && node.defaultText.trim())
      found.defaultText = node.defaultText.trim();
    for (const key of ["allOf", "anyOf", "oneOf"]) {
      const list = node[key];
      if (Array.isArray(list)) for (const inner of list) visit(inner, depth + 1);
    }
  };
  visit(property, 0);
  return found;
}

const unique = (values: string[]) => [...new Set(values)];

/** `a | b` in parentheses where it is part of a longer type (`list of (a | b)`). */
const grouped = (type: string) => (/ [|&] /.test(type) ? `(${type})` : type);

// z.int() bounds: not worth showing.
const SAFE = Number.MAX_SAFE_INTEGER;

function range(schema: JsonSchema): string {
  const bound = (key: string) => {
    const value = schema[key];
    return typeof value === "number" && Math.abs(value) < SAFE ? value : undefined;
  };
  const [min, max, above, below] = [
    bound("minimum"),
    bound("maximum"),
    bound("exclusiveMinimum"),
    bound("exclusiveMaximum"),
  ];
  if (min !== undefined && max !== undefined) return ` (${min} to ${max})`;
  const parts = [
    min !== undefined ? `≥ ${min}` : above !== undefined ? `> ${above}` : undefined,
    max !== undefined ? `≤ ${max}` : below !== undefined ? `< ${below}` : undefined,
  ].filter((part) => part !== undefined);
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/** The values a JSON Schema accepts, in a few words. */
export function typeText(schema: JsonSchema | boolean | undefined): string {
  if (schema === undefined || schema === true) return "any";
  if (schema === false) return "nothing";
  if (Object.hasOwn(schema, "const")) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((value) => JSON.stringify(value)).join(" | ");
  const variants = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(variants)) return unique(variants.map((variant) => typeText(variant))).join(" | ");
  if (Array.isArray(schema.allOf)) return schema.allOf.map((part) => typeText(part)).join(" & ");
  if (typeof schema.$ref === "string") return "object";
  const { type } = schema;
  if (Array.isArray(type)) return type.map((one) => typeText({ ...schema, type: one })).join(" | ");
  switch (type) {
    case "string":
    case "boolean":
    case "null":
      return type;
    case "integer":
    case "number":
      return `${type}${range(schema)}`;
    case "array": {
      const item = typeText(schema.items as JsonSchema | undefined);
      const nonEmpty = typeof schema.minItems === "number" && schema.minItems > 0 ? "non-empty " : "";
      return `${nonEmpty}list of ${grouped(item)}`;
    }
    case "object": {
      if (isObject(schema.properties) && Object.keys(schema.properties).length > 0) {
        const required = Array.isArray(schema.required) ? schema.required : [];
        const fields = Object.entries(schema.properties).map(
          ([name, inner]) => `${name}${required.includes(name) ? "" : "?"}: ${typeText(inner as JsonSchema)}`,
        );
        return `{ ${fields.join(", ")} }`;
      }
      if (isObject(schema.additionalProperties) || schema.additionalProperties === true) {
        const value = typeText(schema.additionalProperties as JsonSchema | true);
        return `map of ${grouped(value)}`;
      }
      return "map";
    }
    default:
      return "any";
  }
}

/** A monitor id from the example's name: `Orders DLQ is empty` -> `orders-dlq-is-empty`. */
export function exampleMonitorId(name: string): string {
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 64)
    .replace(/-+$/, "");
  return id || "example";
}

/** The check's example as a config item, ready for `watchkeeper add --file` or `import`. */
export function exampleConfig(check: CheckDefinition): Record<string, unknown> | undefined {
  const { example } = check;
  if (!example) return undefined;
  return {
    monitorId: exampleMonitorId(example.name),
    name: example.name,
    check: check.name,
    schedule: example.schedule ?? EXAMPLE_SCHEDULE,
    peopleToNotify: [EXAMPLE_RECIPIENT],
    params: example.params,
  };
}
