import { randomUUID } from "node:crypto";
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { S3_OBJECT_FRESHNESS_CHECK, s3ObjectFreshnessCheck } from "#monitors/s3-object-freshness.ts";
import type { CheckContext } from "#monitors/types.ts";
import { type SqsServer, startSqs } from "../../../local/servers.ts";
import { localClientConfig, setAwsEnvironment } from "../../support/aws.ts";

/**
 * The check against fauxqs's S3 (served on the same endpoint as its SQS). The check builds its
 * client from the SDK's standard variables, exactly as in Lambda: AWS_ENDPOINT_URL_S3 points it
 * at fauxqs, and an IP-address endpoint makes the SDK address buckets path-style by itself.
 */
const ENV_KEYS = [
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_ENDPOINT_URL_SQS",
  "AWS_ENDPOINT_URL_S3",
] as const;
const savedEnv = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));

let server: SqsServer;
let s3: S3Client;

beforeAll(async () => {
  server = await startSqs();
  setAwsEnvironment({ sqs: server.endpoint });
  process.env.AWS_ENDPOINT_URL_S3 = server.endpoint;
  s3 = new S3Client(localClientConfig(server.endpoint));
});

afterAll(async () => {
  s3?.destroy();
  await server?.stop();
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

async function newBucket(): Promise<string> {
  const bucket = `exports-${randomUUID().slice(0, 8)}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/**
 * Writes an object and returns its LastModified as the server reports it: to HeadObject (whole
 * seconds, an HTTP date) and in listings (milliseconds).
 */
async function put(bucket: string, key: string, body = "order,amount\n1,2\n") {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }));
  const listTime = listed.Contents?.[0]?.LastModified;
  if (!head.LastModified || !listTime) throw new Error(`no LastModified for ${key}`);
  return { headTime: head.LastModified, listTime };
}

/** Waits until the clock has moved past `instant`, so that the next write is strictly newer. */
async function clockPast(instant: Date): Promise<void> {
  while (Date.now() <= instant.getTime() + 1) await new Promise((resolve) => setImmediate(resolve));
}

function context(
  params: Record<string, unknown>,
  now: Date,
  extra: Partial<CheckContext> = {},
): CheckContext {
  return {
    monitorId: "orders-export",
    params,
    signal: AbortSignal.timeout(10_000),
    logger: silentLogger,
    now,
    ...extra,
  };
}

const minutesAfter = (instant: Date, minutes: number) => new Date(instant.getTime() + minutes * 60_000);

describe("s3-object-freshness check (fauxqs S3)", () => {
  it("is registered under the name config items use", () => {
    expect(s3ObjectFreshnessCheck.name).toBe(S3_OBJECT_FRESHNESS_CHECK);
    expect(S3_OBJECT_FRESHNESS_CHECK).toBe("s3-object-freshness");
  });

  describe("params.key", () => {
    it("fills the date pattern with the tick's date in the monitor's timezone", async () => {
      const bucket = await newBucket();
      await put(bucket, "exports/2026/02/28/orders.csv");
      // 02:30 UTC on 1 March is still 28 February (20:30) in Chicago.
      const now = new Date("2026-03-01T02:30:00Z");
      const params = { bucket, key: "exports/{yyyy}/{MM}/{dd}/orders.csv" };
      const chicago = await s3ObjectFreshnessCheck.run(context(params, now, { timezone: "America/Chicago" }));
      expect(chicago).toMatchObject({
        isOk: true,
        message: expect.stringMatching(
          new RegExp(`^s3://${bucket}/exports/2026/02/28/orders\\.csv exists \\(17 B, last modified `),
        ),
      });
      await expect(
        s3ObjectFreshnessCheck.run(context(params, now, { timezone: "Asia/Tokyo" })),
      ).resolves.toEqual({
        isOk: false,
        message: `no object s3://${bucket}/exports/2026/03/01/orders.csv (2026-03-01 in Asia/Tokyo)`,
      });
    });

    it("reads a context without a timezone as UTC, and dateOffsetDays moves the date", async () => {
      const bucket = await newBucket();
      await put(bucket, "daily/2026-12-31.csv");
      const now = new Date("2027-01-01T08:00:00Z");
      const key = "daily/{yyyy}-{MM}-{dd}.csv";
      await expect(s3ObjectFreshnessCheck.run(context({ bucket, key }, now))).resolves.toEqual({
        isOk: false,
        message: `no object s3://${bucket}/daily/2027-01-01.csv (2027-01-01 in UTC)`,
      });
      await expect(
        s3ObjectFreshnessCheck.run(context({ bucket, key, dateOffsetDays: -1 }, now)),
      ).resolves.toMatchObject({ isOk: true });
    });

    it("is OK within maxAgeMinutes of the tick and fails beyond, naming age and limit", async () => {
      const bucket = await newBucket();
      const { headTime: modified } = await put(bucket, "orders.csv");
      const params = { bucket, key: "orders.csv", maxAgeMinutes: 60 };
      const fresh = await s3ObjectFreshnessCheck.run(context(params, minutesAfter(modified, 59)));
      expect(fresh).toEqual({
        isOk: true,
        message: `s3://${bucket}/orders.csv is 59m old (limit 60m), 17 B, last modified ${modified.toISOString()}`,
      });
      const stale = await s3ObjectFreshnessCheck.run(context(params, minutesAfter(modified, 61)));
      expect(stale).toEqual({
        isOk: false,
        message: `s3://${bucket}/orders.csv is 1h1m old (limit 60m), 17 B, last modified ${modified.toISOString()}`,
      });
    });

    it("fails an object smaller than minBytes (default 1: an empty file is not a delivery)", async () => {
      const bucket = await newBucket();
      const { headTime: modified } = await put(bucket, "empty.csv", "");
      const now = minutesAfter(modified, 1);
      await expect(s3ObjectFreshnessCheck.run(context({ bucket, key: "empty.csv" }, now))).resolves.toEqual({
        isOk: false,
        message: `s3://${bucket}/empty.csv is 0 B, below params.minBytes (1 byte)`,
      });
      await expect(
        s3ObjectFreshnessCheck.run(context({ bucket, key: "empty.csv", minBytes: 0 }, now)),
      ).resolves.toMatchObject({ isOk: true });
      await put(bucket, "small.csv", "x".repeat(99));
      await expect(
        s3ObjectFreshnessCheck.run(context({ bucket, key: "small.csv", minBytes: 100 }, now)),
      ).resolves.toEqual({
        isOk: false,
        message: `s3://${bucket}/small.csv is 99 B, below params.minBytes (100 bytes)`,
      });
    });

    it("says when the bucket itself does not exist", async () => {
      const bucket = `missing-${randomUUID().slice(0, 8)}`;
      await expect(
        s3ObjectFreshnessCheck.run(context({ bucket, key: "orders.csv" }, new Date())),
      ).resolves.toEqual({ isOk: false, message: `bucket ${bucket} does not exist` });
    });

    it("stops at once when ctx.signal is already aborted", async () => {
      const bucket = await newBucket();
      const signal = AbortSignal.abort(new Error("check timed out"));
      await expect(
        s3ObjectFreshnessCheck.run(context({ bucket, key: "orders.csv" }, new Date(), { signal })),
      ).rejects.toThrow(`HeadObject on s3://${bucket}/orders.csv aborted: check timed out`);
    });
  });

  describe("params.prefix", () => {
    it("judges the newest object by LastModified, not by key order, and skips folder markers", async () => {
      const bucket = await newBucket();
      const { listTime: older } = await put(bucket, "inbox/b-older.csv");
      await clockPast(older);
      const { listTime: newest } = await put(bucket, "inbox/a-newest.csv", "1234");
      await clockPast(newest);
      await put(bucket, "inbox/z-folder/", "");
      await put(bucket, "elsewhere.csv");
      const result = await s3ObjectFreshnessCheck.run(
        context({ bucket, prefix: "inbox/", maxAgeMinutes: 30 }, minutesAfter(newest, 10)),
      );
      expect(result).toMatchObject({
        isOk: true,
        message: expect.stringMatching(
          new RegExp(`^newest object s3://${bucket}/inbox/a-newest\\.csv is 10m old \\(limit 30m\\), 4 B, `),
        ),
      });
    });

    it("fails when nothing is under the prefix, naming the date a dated prefix was filled with", async () => {
      const bucket = await newBucket();
      await put(bucket, "exports/2026/11/20/orders.csv");
      const now = new Date("2026-11-21T12:00:00Z");
      await expect(
        s3ObjectFreshnessCheck.run(
          context({ bucket, prefix: "exports/{yyyy}/{MM}/{dd}/", maxAgeMinutes: 60 }, now, {
            timezone: "Europe/Paris",
          }),
        ),
      ).resolves.toEqual({
        isOk: false,
        message: `no objects under s3://${bucket}/exports/2026/11/21/ (2026-11-21 in Europe/Paris)`,
      });
    });

    it("follows continuation tokens and stops after maxListPages with a clear message", async () => {
      const bucket = await newBucket();
      // 1,000 keys fill the first page; the newest sorts last, so only page 2 holds it.
      const keys = Array.from(
        { length: 1000 },
        (_, index) => `feed/part-${String(index).padStart(4, "0")}.csv`,
      );
      for (let start = 0; start < keys.length; start += 50) {
        await Promise.all(
          keys
            .slice(start, start + 50)
            .map((key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "1" }))),
        );
      }
      let last = new Date(0);
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: "feed/", ContinuationToken: token }),
        );
        for (const { LastModified } of page.Contents ?? []) {
          if (LastModified && LastModified > last) last = LastModified;
        }
        token = page.NextContinuationToken;
      } while (token);
      await clockPast(last);
      const { listTime: newest } = await put(bucket, "feed/zz-latest.csv", "12345");
      const now = minutesAfter(newest, 5);
      await expect(
        s3ObjectFreshnessCheck.run(context({ bucket, prefix: "feed/", maxAgeMinutes: 10 }, now)),
      ).resolves.toMatchObject({
        isOk: true,
        message: expect.stringContaining(`newest object s3://${bucket}/feed/zz-latest.csv is 5m old`),
      });
      await expect(
        s3ObjectFreshnessCheck.run(
          context({ bucket, prefix: "feed/", maxAgeMinutes: 10, maxListPages: 1 }, now),
        ),
      ).resolves.toEqual({
        isOk: false,
        message: `more than 1,000 objects under s3://${bucket}/feed/ (params.maxListPages 1): the newest cannot be told; narrow params.prefix, e.g. with a date pattern such as exports/{yyyy}/{MM}/{dd}/, or use params.key`,
      });
    });

    it("says when the bucket does not exist", async () => {
      const bucket = `missing-${randomUUID().slice(0, 8)}`;
      await expect(
        s3ObjectFreshnessCheck.run(context({ bucket, prefix: "", maxAgeMinutes: 5 }, new Date())),
      ).resolves.toEqual({ isOk: false, message: `bucket ${bucket} does not exist` });
    });
  });
});
