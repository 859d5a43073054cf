import { describe, expect, it } from "vitest";
import { ConfigFieldSchemas } from "#core/schemas.ts";
import { dnsCheck } from "#monitors/dns.ts";
import { dynamodbFreshnessCheck } from "#monitors/dynamodb-freshness.ts";
import { httpCheck } from "#monitors/http.ts";
import { checks, findCheck } from "#monitors/index.ts";
import { manualCheck } from "#monitors/manual.ts";
import { s3ObjectFreshnessCheck } from "#monitors/s3-object-freshness.ts";
import { sqlCheck } from "#monitors/sql.ts";
import { sqsQueueEmptyCheck } from "#monitors/sqs-queue-empty.ts";
import { stepFunctionsCheck } from "#monitors/step-functions.ts";
import { describeParams, paramsJsonSchema } from "#monitors/support/catalog.ts";
import { parseParams, validateParamsBeforeResolution } from "#monitors/support/params.ts";
import { tcpCheck } from "#monitors/tcp.ts";
import { tlsCertificateCheck } from "#monitors/tls-certificate.ts";

describe("check registry", () => {
  it("holds exactly the shipped checks, keyed by their own names", () => {
    expect([...checks.keys()].sort()).toEqual([
      "cloudwatch-alarm",
      "cloudwatch-metric",
      "dns",
      "dynamodb-freshness",
      "http",
      "lambda",
      "manual",
      "s3-object-freshness",
      "sql",
      "sqs-queue-empty",
      "step-functions",
      "tcp",
      "tls-certificate",
    ]);
    for (const [name, check] of checks) expect(check.name).toBe(name);
  });

  it("resolves each name to its module's definition", () => {
    expect(findCheck("manual")).toBe(manualCheck);
    expect(findCheck("http")).toBe(httpCheck);
    expect(findCheck("sqs-queue-empty")).toBe(sqsQueueEmptyCheck);
    expect(findCheck("dynamodb-freshness")).toBe(dynamodbFreshnessCheck);
    expect(findCheck("dns")).toBe(dnsCheck);
    expect(findCheck("tcp")).toBe(tcpCheck);
    expect(findCheck("tls-certificate")).toBe(tlsCertificateCheck);
    expect(findCheck("s3-object-freshness")).toBe(s3ObjectFreshnessCheck);
    expect(findCheck("sql")).toBe(sqlCheck);
    expect(findCheck("step-functions")).toBe(stepFunctionsCheck);
  });

  it("returns undefined for an unknown name, including Object.prototype members", () => {
    for (const name of [
      "",
      "nope",
      "HTTP",
      "http ",
      "constructor",
      "toString",
      "__proto__",
      "hasOwnProperty",
    ]) {
      expect(findCheck(name), name).toBeUndefined();
    }
  });

  it("only registers names a config item can spell", () => {
    for (const name of checks.keys()) {
      expect(ConfigFieldSchemas.check.safeParse(name).success, name).toBe(true);
    }
  });

  it("gives every check a description and a run function", () => {
    for (const check of checks.values()) {
      expect(check.description.length, check.name).toBeGreaterThan(20);
      expect(typeof check.run, check.name).toBe("function");
    }
  });

  // The bar every check meets, present and future: `watchkeeper checks` and the docs are read off
  // these, and a check added without them fails here by name.
  describe.each([...checks.values()].map((check) => [check.name, check] as const))(
    "%s documents itself",
    (name, check) => {
      it("has a params schema that converts to JSON Schema with at least one param", () => {
        expect(check.paramsSchema, `${name}: paramsSchema`).toBeDefined();
        expect(paramsJsonSchema(check), `${name}: z.toJSONSchema of paramsSchema`).toBeDefined();
        expect(describeParams(check).length, `${name}: params`).toBeGreaterThan(0);
      });

      it("describes every param, and says what leaving an optional one out means", () => {
        for (const param of describeParams(check)) {
          const where = `${name}: params.${param.name}`;
          expect(param.description, `${where} needs .meta({ description })`).toMatch(/\S.{9,}/);
          if (!param.required) {
            expect(
              param.hasDefault || param.defaultText !== undefined,
              `${where} is optional: give it .default(value) or .meta({ defaultText })`,
            ).toBe(true);
          }
        }
      });

      it("has an example whose params pass its own schema, before and after secret resolution", () => {
        expect(check.example, `${name}: example`).toBeDefined();
        const example = check.example as NonNullable<typeof check.example>;
        expect(example.name.trim().length, `${name}: example.name`).toBeGreaterThan(0);
        expect(() => parseParams(name, check.paramsSchema as never, example.params)).not.toThrow();
        expect(() => validateParamsBeforeResolution(name, check.paramsSchema, example.params)).not.toThrow();
      });
    },
  );
});
