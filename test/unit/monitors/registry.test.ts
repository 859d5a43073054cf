import { describe, expect, it } from "vitest";
import { ConfigFieldSchemas } from "#core/schemas.ts";
import { dynamodbFreshnessCheck } from "#monitors/dynamodb-freshness.ts";
import { httpCheck } from "#monitors/http.ts";
import { checks, findCheck } from "#monitors/index.ts";
import { manualCheck } from "#monitors/manual.ts";
import { sqsQueueEmptyCheck } from "#monitors/sqs-queue-empty.ts";

describe("check registry", () => {
  it("holds exactly the shipped checks, keyed by their own names", () => {
    expect([...checks.keys()].sort()).toEqual([
      "cloudwatch-alarm",
      "cloudwatch-metric",
      "dynamodb-freshness",
      "http",
      "lambda",
      "manual",
      "sqs-queue-empty",
    ]);
    for (const [name, check] of checks) expect(check.name).toBe(name);
  });

  it("resolves each name to its module's definition", () => {
    expect(findCheck("manual")).toBe(manualCheck);
    expect(findCheck("http")).toBe(httpCheck);
    expect(findCheck("sqs-queue-empty")).toBe(sqsQueueEmptyCheck);
    expect(findCheck("dynamodb-freshness")).toBe(dynamodbFreshnessCheck);
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
