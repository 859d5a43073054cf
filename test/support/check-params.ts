import { expect } from "vitest";
import { InvalidParamsError } from "#monitors/support/params.ts";

/** Helpers for the checks' tests, and for those that hold every registered check to the same bar. */

/** An error shaped like the AWS SDK's (its `name` is the service's exception name). */
export const awsError = (name: string, message: string) => Object.assign(new Error(message), { name });

/** The params problems a run refuses with: it must reject with InvalidParamsError. */
export async function paramsProblems(run: Promise<unknown>, params: unknown): Promise<string[]> {
  const error = await run.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error, JSON.stringify(params)).toBeInstanceOf(InvalidParamsError);
  return [...(error as InvalidParamsError).problems];
}

/** A value of a JSON type the param's schema does not accept, or undefined when it accepts any. */
export function wrongValueFor(property: Record<string, unknown>): unknown {
  const accepted = new Set<string>();
  const collect = (node: unknown) => {
    if (typeof node !== "object" || node === null) return;
    const schema = node as Record<string, unknown>;
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    for (const type of types)
      if (typeof type === "string") accepted.add(type === "integer" ? "number" : type);
    for (const value of [schema.const, ...(Array.isArray(schema.enum) ? schema.enum : [])]) {
      if (value !== undefined)
        accepted.add(Array.isArray(value) ? "array" : value === null ? "null" : typeof value);
    }
    for (const key of ["anyOf", "oneOf", "allOf"]) {
      const list = schema[key];
      if (Array.isArray(list)) for (const inner of list) collect(inner);
    }
  };
  collect(property);
  // Nothing said about the type: it accepts anything.
  if (accepted.size === 0) return undefined;
  const candidates: Array<[string, unknown]> = [
    ["number", 12345],
    ["string", "not-a-valid-value"],
    ["boolean", true],
    ["array", [1]],
    ["object", { unexpected: 1 }],
  ];
  return candidates.find(([type]) => !accepted.has(type))?.[1];
}
