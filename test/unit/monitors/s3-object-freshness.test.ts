import { readFileSync } from "node:fs";
import { HeadObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { createS3ObjectFreshnessCheck, S3_OBJECT_FRESHNESS_CHECK } from "#monitors/s3-object-freshness.ts";
import { InvalidParamsError } from "#monitors/support/params.ts";
import type { CheckContext } from "#monitors/types.ts";

/**
 * What fauxqs cannot show: S3's denials (it does no IAM), other faults, and the exact requests.
 * The happy paths and missing objects run against fauxqs (test/integration/monitors/).
 */

const NOW = new Date("2026-11-21T14:05:00.000Z");
const s3 = mockClient(S3Client);
const check = createS3ObjectFreshnessCheck({ clientFor: () => new S3Client({ region: "eu-west-1" }) });

const sdkError = (name: string, status: number, message = name) =>
  new S3ServiceException({ name, message, $fault: "client", $metadata: { httpStatusCode: status } });

function context(params: Record<string, unknown>): CheckContext {
  return { monitorId: "m", params, signal: AbortSignal.timeout(5_000), logger: silentLogger, now: NOW };
}
const run = (params: Record<string, unknown>) => check.run(context(params));

beforeEach(() => s3.reset());
afterEach(() => s3.reset());

describe("s3-object-freshness check (faults and request shapes)", () => {
  it("heads exactly the filled key, and lists with a bounded page size", async () => {
    s3.on(HeadObjectCommand).resolves({ LastModified: NOW, ContentLength: 10 });
    await run({ bucket: "bkt", key: "x/{yyyy}{MM}{dd}.csv" });
    expect(s3.commandCalls(HeadObjectCommand).map((call) => call.args[0].input)).toEqual([
      { Bucket: "bkt", Key: "x/20261121.csv" },
    ]);
    s3.on(ListObjectsV2Command)
      .resolvesOnce({ IsTruncated: true, NextContinuationToken: "t1", Contents: [] })
      .resolvesOnce({ IsTruncated: false, Contents: [{ Key: "p/a", LastModified: NOW, Size: 3 }] });
    await expect(run({ bucket: "bkt", prefix: "p/", maxAgeMinutes: 5 })).resolves.toMatchObject({
      isOk: true,
    });
    expect(s3.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input)).toEqual([
      { Bucket: "bkt", Prefix: "p/", MaxKeys: 1000, ContinuationToken: undefined },
      { Bucket: "bkt", Prefix: "p/", MaxKeys: 1000, ContinuationToken: "t1" },
    ]);
  });

  const DENIED =
    "access denied to s3://bkt/in/orders.csv: the orchestrator may not read bucket bkt (list arn:aws:s3:::bkt in the stack setting checkReadArns)";

  it("a denied HeadObject whose listing is denied too: access denied, naming bucket, key and setting", async () => {
    s3.on(HeadObjectCommand).rejects(sdkError("Forbidden", 403, "UnknownError"));
    s3.on(ListObjectsV2Command).rejects(sdkError("AccessDenied", 403, "Access Denied"));
    await expect(run({ bucket: "bkt", key: "in/orders.csv" })).resolves.toEqual({
      isOk: false,
      message: DENIED,
    });
  });

  it("a 403 for a key the listing does not show: the object is missing (S3 hides 404s from non-listers)", async () => {
    s3.on(HeadObjectCommand).rejects(sdkError("Forbidden", 403, "UnknownError"));
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "in/orders.csv.tmp" }] });
    await expect(run({ bucket: "bkt", key: "in/orders.csv" })).resolves.toEqual({
      isOk: false,
      message: "no object s3://bkt/in/orders.csv",
    });
    expect(s3.commandCalls(ListObjectsV2Command)[0]?.args[0].input).toEqual({
      Bucket: "bkt",
      Prefix: "in/orders.csv",
      MaxKeys: 1,
    });
  });

  it("a 403 for a key the listing shows: GetObject is what is denied", async () => {
    s3.on(HeadObjectCommand).rejects(sdkError("Forbidden", 403, "UnknownError"));
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: "in/orders.csv" }] });
    await expect(run({ bucket: "bkt", key: "in/orders.csv" })).resolves.toEqual({
      isOk: false,
      message: DENIED,
    });
  });

  it("a denied listing under a prefix: access denied, naming bucket, prefix and setting", async () => {
    s3.on(ListObjectsV2Command).rejects(sdkError("AccessDenied", 403, "Access Denied"));
    await expect(run({ bucket: "bkt", prefix: "in/", maxAgeMinutes: 5 })).resolves.toEqual({
      isOk: false,
      message:
        "access denied to the listing of s3://bkt/in/: the orchestrator may not read bucket bkt (list arn:aws:s3:::bkt in the stack setting checkReadArns)",
    });
  });

  it("any other error is a failed check naming the call and the object", async () => {
    s3.on(HeadObjectCommand).rejects(sdkError("SlowDown", 503, "Please reduce your request rate."));
    await expect(run({ bucket: "bkt", key: "k" })).resolves.toEqual({
      isOk: false,
      message: "HeadObject on s3://bkt/k failed: SlowDown: Please reduce your request rate.",
    });
    s3.on(ListObjectsV2Command).rejects(sdkError("InternalError", 500, "We encountered an internal error."));
    await expect(run({ bucket: "bkt", prefix: "", maxAgeMinutes: 1 })).resolves.toEqual({
      isOk: false,
      message: "ListObjectsV2 on s3://bkt/ failed: InternalError: We encountered an internal error.",
    });
  });

  it("an object dated after the tick counts as fresh", async () => {
    s3.on(HeadObjectCommand).resolves({
      LastModified: new Date(NOW.getTime() + 120_000),
      ContentLength: 2048,
    });
    await expect(run({ bucket: "bkt", key: "k", maxAgeMinutes: 1 })).resolves.toEqual({
      isOk: true,
      message: "s3://bkt/k is 2m in the future (limit 1m), 2 KiB, last modified 2026-11-21T14:07:00.000Z",
    });
  });

  it("loads the S3 client lazily: the module imports only its types", () => {
    const source = readFileSync(new URL("../../../monitors/s3-object-freshness.ts", import.meta.url), "utf8");
    const sdkImports = source.split("\n").filter((line) => /^import .*@aws-sdk\//.test(line));
    expect(sdkImports.length).toBeGreaterThan(0);
    for (const line of sdkImports) expect(line).toMatch(/^import type /);
    expect(source).toContain('import("@aws-sdk/client-s3")');
  });

  describe("params validation names the bad param", () => {
    it.each([
      [{}, "params.bucket is required"],
      [{ bucket: "b1x" }, "params.key or params.prefix is required"],
      [{ bucket: 5, key: "k" }, "params.bucket must be an S3 bucket name"],
      [{ bucket: "arn:aws:s3:::b", key: "k" }, "params.bucket must be an S3 bucket name"],
      [{ bucket: "My_Bucket", key: "k" }, "params.bucket must be an S3 bucket name"],
      [{ bucket: "b1x", key: 7 }, "params.key must be an object key"],
      [{ bucket: "b1x", key: "" }, "params.key must not be empty"],
      [{ bucket: "b1x", key: "k".repeat(1025) }, "params.key must be at most 1024 characters"],
      [{ bucket: "b1x", key: "x/{date}.csv" }, "params.key has an unknown token {date}"],
      [{ bucket: "b1x", prefix: "x/{yyyy", maxAgeMinutes: 5 }, "params.prefix has a { or } outside a token"],
      [{ bucket: "b1x", prefix: 3, maxAgeMinutes: 5 }, "params.prefix must be a key prefix"],
      [{ bucket: "b1x", key: "k", prefix: "p/" }, "params.prefix cannot be used with params.key"],
      [{ bucket: "b1x", prefix: "p/" }, "params.maxAgeMinutes is required with params.prefix"],
      [{ bucket: "b1x", key: "k", maxAgeMinutes: 0 }, "params.maxAgeMinutes must be a positive number"],
      [{ bucket: "b1x", key: "k", maxAgeMinutes: "60" }, "params.maxAgeMinutes must be a positive number"],
      [{ bucket: "b1x", key: "k", minBytes: -1 }, "params.minBytes must be a whole number of bytes"],
      [{ bucket: "b1x", key: "k", minBytes: 1.5 }, "params.minBytes must be a whole number of bytes"],
      [
        { bucket: "b1x", key: "k", dateOffsetDays: 1 },
        "params.dateOffsetDays must be a whole number of days",
      ],
      [{ bucket: "b1x", key: "k", dateOffsetDays: -400 }, "params.dateOffsetDays must be a whole number"],
      [{ bucket: "b1x", prefix: "", maxAgeMinutes: 5, maxListPages: 0 }, "params.maxListPages must be"],
      [{ bucket: "b1x", prefix: "", maxAgeMinutes: 5, maxListPages: 101 }, "params.maxListPages must be"],
      [{ bucket: "b1x", key: "k", region: "Europe" }, "params.region must be an AWS region"],
      [{ bucket: "b1x", key: "k", maxAge: 5 }, "params.maxAge is not a known parameter"],
    ])("%j", async (params, expected) => {
      const error = await run(params).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidParamsError);
      expect((error as InvalidParamsError).check).toBe(S3_OBJECT_FRESHNESS_CHECK);
      expect((error as Error).message).toContain(expected);
      expect(s3.calls()).toHaveLength(0);
    });
  });
});
