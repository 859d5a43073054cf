import { describe, expect, it } from "vitest";
import * as z from "zod";
import { HttpParamsSchema } from "#monitors/http.ts";
import {
  describeParams,
  EXAMPLE_RECIPIENT,
  EXAMPLE_SCHEDULE,
  exampleConfig,
  exampleMonitorId,
  paramsJsonSchema,
  typeText,
} from "#monitors/support/catalog.ts";
import type { CheckDefinition } from "#monitors/types.ts";

/** A check around a schema: the catalog reads nothing else. */
function checkWith(
  paramsSchema?: CheckDefinition["paramsSchema"],
  example?: CheckDefinition["example"],
): CheckDefinition {
  return {
    name: "probe",
    description: "A check for the catalog's tests.",
    ...(paramsSchema ? { paramsSchema } : {}),
    ...(example ? { example } : {}),
    run: async () => ({ isOk: true, message: "ok" }),
  };
}

describe("describeParams", () => {
  it("reads name, type, required, default and the metadata off any wrapper order", () => {
    const schema = z.strictObject({
      host: z.string().meta({ description: "Host to reach." }),
      port: z.number().int().min(1).max(65535).default(443).meta({ description: "TCP port." }),
      // .meta() before .optional(): the description still belongs to the param.
      timeoutMs: z
        .number()
        .positive()
        .meta({ description: "Connect timeout.", defaultText: "the check's timeout" })
        .optional(),
      mode: z
        .preprocess((value) => value, z.enum(["fast", "slow"]).default("fast"))
        .describe("How hard to try."),
      tags: z.array(z.string()).min(1).optional(),
    });
    expect(describeParams(checkWith(schema))).toEqual([
      { name: "host", type: "string", required: true, hasDefault: false, description: "Host to reach." },
      {
        name: "port",
        type: "integer (1 to 65535)",
        required: false,
        hasDefault: true,
        default: 443,
        description: "TCP port.",
      },
      {
        name: "timeoutMs",
        type: "number (> 0)",
        required: false,
        hasDefault: false,
        defaultText: "the check's timeout",
        description: "Connect timeout.",
      },
      {
        name: "mode",
        type: '"fast" | "slow"',
        required: false,
        hasDefault: true,
        default: "fast",
        description: "How hard to try.",
      },
      { name: "tags", type: "non-empty list of string", required: false, hasDefault: false },
    ]);
  });

  it("finds a description written on a branch of a nullable or union param", () => {
    const schema = z.strictObject({
      note: z.string().describe("A note.").nullable(),
      limit: z
        .number()
        .meta({ description: "A limit.", defaultText: "none" })
        .or(z.literal("auto"))
        .optional(),
    });
    expect(describeParams(checkWith(schema))).toEqual([
      { name: "note", type: "string | null", required: true, hasDefault: false, description: "A note." },
      {
        name: "limit",
        type: 'number | "auto"',
        required: false,
        hasDefault: false,
        defaultText: "none",
        description: "A limit.",
      },
    ]);
  });

  it("keeps the params of a superRefine'd object (the http check's schema)", () => {
    const names = describeParams(checkWith(HttpParamsSchema)).map((param) => param.name);
    expect(names).toEqual([
      "url",
      "method",
      "expectedStatus",
      "bodyIncludes",
      "maxLatencyMs",
      "headers",
      "followRedirects",
      "allowAddresses",
      "json",
    ]);
  });

  it("merges the branches of a union of objects: required only where every branch requires it", () => {
    const schema = z.union([
      z.strictObject({ alarmName: z.string(), region: z.string().optional() }),
      z.strictObject({ alarmPrefix: z.string(), region: z.string() }),
    ]);
    const params = describeParams(checkWith(schema));
    expect(params.map(({ name, required }) => [name, required])).toEqual([
      ["alarmName", false],
      ["region", false],
      ["alarmPrefix", false],
    ]);
    const intersection = z.intersection(z.object({ a: z.string() }), z.object({ b: z.number().optional() }));
    expect(describeParams(checkWith(intersection)).map(({ name, required }) => [name, required])).toEqual([
      ["a", true],
      ["b", false],
    ]);
  });

  it("lists nothing, without throwing, for a check without a schema or with one that is not an object", () => {
    expect(describeParams(checkWith())).toEqual([]);
    expect(paramsJsonSchema(checkWith())).toBeUndefined();
    expect(describeParams(checkWith(z.string()))).toEqual([]);
    expect(describeParams(checkWith(z.any()))).toEqual([]);
  });

  it("shows what JSON Schema cannot express as any", () => {
    const schema = z.strictObject({
      at: z.date(),
      custom: z.custom<Buffer>((value) => Buffer.isBuffer(value)),
    });
    expect(describeParams(checkWith(schema)).map((param) => param.type)).toEqual(["any", "any"]);
  });
});

describe("typeText", () => {
  it("names the accepted values in a few words", () => {
    const text = (schema: z.ZodType) => typeText(z.toJSONSchema(schema, { io: "input" }) as never);
    expect(text(z.boolean())).toBe("boolean");
    expect(text(z.number().int())).toBe("integer");
    expect(text(z.number().min(0))).toBe("number (≥ 0)");
    expect(text(z.number().lt(10))).toBe("number (< 10)");
    expect(text(z.literal("x"))).toBe('"x"');
    expect(text(z.union([z.string(), z.number()]))).toBe("string | number");
    expect(text(z.array(z.enum(["a", "b"])))).toBe('list of ("a" | "b")');
    expect(text(z.record(z.string(), z.union([z.string(), z.boolean()])))).toBe("map of (string | boolean)");
    expect(text(z.record(z.string(), z.number()))).toBe("map of number");
    expect(text(z.strictObject({ name: z.string(), value: z.number().optional() }))).toBe(
      "{ name: string, value?: number }",
    );
    expect(text(z.string().nullable())).toBe("string | null");
    expect(typeText(undefined)).toBe("any");
    expect(typeText(true)).toBe("any");
  });
});

describe("examples", () => {
  it("derives a valid monitor id from the example's name", () => {
    expect(exampleMonitorId("Orders DLQ is empty")).toBe("orders-dlq-is-empty");
    expect(exampleMonitorId("  Demo: 2 minutes down, 2 up! ")).toBe("demo-2-minutes-down-2-up");
    expect(exampleMonitorId("!!!")).toBe("example");
    expect(exampleMonitorId("x".repeat(70))).toHaveLength(64);
    expect(exampleMonitorId(`${"a".repeat(63)} b`)).toBe("a".repeat(63));
  });

  it("builds a config item around the example's params", () => {
    const check = checkWith(z.strictObject({ host: z.string() }), {
      name: "Mail server answers",
      params: { host: "mail.example.org" },
    });
    expect(exampleConfig(check)).toEqual({
      monitorId: "mail-server-answers",
      name: "Mail server answers",
      check: "probe",
      schedule: EXAMPLE_SCHEDULE,
      peopleToNotify: [EXAMPLE_RECIPIENT],
      params: { host: "mail.example.org" },
    });
    expect(
      exampleConfig(checkWith(undefined, { name: "Nightly", schedule: "cron(0 2 * * ? *)", params: {} }))
        ?.schedule,
    ).toBe("cron(0 2 * * ? *)");
    expect(exampleConfig(checkWith())).toBeUndefined();
  });
});
