import { describe, expect, it } from "vitest";
import { ConfigFieldSchemas } from "#core/schemas.ts";
import { dynamodbFreshnessCheck } from "#monitors/dynamodb-freshness.ts";
import { httpCheck } from "#monitors/http.ts";
import { checks, findCheck } from "#monitors/index.ts";
import { manualCheck } from "#monitors/manual.ts";
import { s3ObjectFreshnessCheck } from "#monitors/s3-object-freshness.ts";
import { sqlCheck } from "#monitors/sql.ts";
import { sqsQueueEmptyCheck } from "#monitors/sqs-queue-empty.ts";
import { stepFunctionsCheck } from "#monitors/step-functions.ts";

describe("check registry", () => {
  it("holds exactly the shipped checks, keyed by their own names", () => {
    expect([...checks.keys()].sort()).toEqual([
      "dynamodb-freshness",
      "http",
      "manual",
      "s3-object-freshness",
      "sql",
      "sqs-queue-empty",
      "step-functions",
    ]);
    for (const [name, check] of checks) expect(check.name).toBe(name);
  });

  it("resolves each name to its module's definition", () => {
    expect(findCheck("manual")).toBe(manualCheck);
    expect(findCheck("http")).toBe(httpCheck);
    expect(findCheck("sqs-queue-empty")).toBe(sqsQueueEmptyCheck);
    expect(findCheck("dynamodb-freshness")).toBe(dynamodbFreshnessCheck);
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
});
