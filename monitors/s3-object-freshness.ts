import type { ListObjectsV2CommandOutput, S3Client } from "@aws-sdk/client-s3";
import * as z from "zod/mini";
import { abortedError } from "./support/abort.ts";
import { checkClientConfig, lazyImport, REGION_PATTERN, regionalClients } from "./support/clients.ts";
import {
  type CalendarTime,
  calendarTime,
  datePatternProblem,
  fillDatePattern,
  hasDateTokens,
} from "./support/date-pattern.ts";
import { errorText, formatBytes, formatDuration, plural } from "./support/format.ts";
import { must, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `s3-object-freshness`: "did today's file land?". Either one key (with a date pattern filled in
 * the monitor's timezone, read with HeadObject) or the newest object under a prefix (ListObjectsV2,
 * a bounded number of pages) must exist, be younger than `maxAgeMinutes` and hold at least
 * `minBytes`. A missing object, bucket or permission is a failed check with a message that names
 * the bucket and the key; only bad params and the orchestrator's abort throw. Messages name keys,
 * sizes and times (metadata), never object contents, which the check never reads.
 */

export const S3_OBJECT_FRESHNESS_CHECK = "s3-object-freshness";

/** S3 bucket names (general purpose and directory buckets): 3-63 of a-z 0-9 . - */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Objects per ListObjectsV2 page (S3's maximum and default). */
export const LIST_PAGE_SIZE = 1000;

function datePattern(what: string) {
  return z.string({ error: must(`must be ${what}`) }).check(
    z.maxLength(1024, "must be at most 1024 characters (S3's key length)"),
    z.superRefine((value, ctx) => {
      const problem = datePatternProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  );
}

export const S3ObjectFreshnessParamsSchema = z
  .strictObject({
    bucket: z
      .string({ error: must("must be an S3 bucket name") })
      .check(z.regex(BUCKET_NAME, "must be an S3 bucket name (3-63 of a-z 0-9 . -, not an ARN or URL)"))
      .register(z.globalRegistry, { description: "Bucket name (not an ARN), e.g. partner-exports." }),
    key: z
      .optional(z.pipe(datePattern("an object key"), z.string().check(z.minLength(1, "must not be empty"))))
      .register(z.globalRegistry, {
        description:
          "One object: its key, optionally with date tokens {yyyy} {MM} {dd} {HH} filled with the tick's scheduled time in the monitor's timezone, e.g. exports/{yyyy}/{MM}/{dd}/orders.csv. Exactly one of key and prefix.",
        defaultText: "params.prefix is used",
      }),
    // Keys ending in "/" are the folder markers the S3 console creates: they hold no data.
    prefix: z.optional(datePattern("a key prefix")).register(z.globalRegistry, {
      description:
        'The newest object under this prefix (date tokens as in key; "" is the whole bucket); keys ending in / are not objects. Exactly one of key and prefix.',
      defaultText: "params.key is used",
    }),
    maxAgeMinutes: z
      .optional(z.number({ error: must("must be a positive number of minutes") }).check(z.positive()))
      .register(z.globalRegistry, {
        description:
          "Oldest acceptable age of the object (by its LastModified), in minutes. Required with prefix.",
        defaultText: "with key, no age limit (existing is enough)",
      }),
    minBytes: z
      ._default(
        z
          .number({ error: must("must be a whole number of bytes, 0 or more") })
          .check(
            z.int("must be a whole number of bytes, 0 or more"),
            z.gte(0, "must be a whole number of bytes, 0 or more"),
          ),
        1,
      )
      .register(z.globalRegistry, {
        description: "Smallest acceptable size in bytes (0 accepts an empty object).",
      }),
    dateOffsetDays: z
      ._default(
        z
          .number({ error: must("must be a whole number of days from -366 to 0") })
          .check(
            z.int("must be a whole number of days from -366 to 0"),
            z.gte(-366, "must be a whole number of days from -366 to 0"),
            z.lte(0, "must be a whole number of days from -366 to 0"),
          ),
        0,
      )
      .register(z.globalRegistry, {
        description: "Calendar days added to the date the tokens are filled with (-1: yesterday's file).",
      }),
    maxListPages: z
      ._default(
        z
          .number({ error: must("must be a whole number of pages from 1 to 100") })
          .check(
            z.int("must be a whole number of pages from 1 to 100"),
            z.gte(1, "must be a whole number of pages from 1 to 100"),
            z.lte(100, "must be a whole number of pages from 1 to 100"),
          ),
        10,
      )
      .register(z.globalRegistry, {
        description: "With prefix: pages of 1,000 keys listed at most before the check gives up.",
      }),
    region: z
      .optional(
        z
          .string({ error: must("must be an AWS region such as us-east-1") })
          .check(z.regex(REGION_PATTERN, "must be an AWS region such as us-east-1")),
      )
      .register(z.globalRegistry, {
        description: "Region of the bucket (a bucket in another region is followed).",
        defaultText: "the SDK's region (AWS_REGION)",
      }),
  })
  .check(
    z.superRefine((params, ctx) => {
      if (params.key !== undefined && params.prefix !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["prefix"],
          message: "cannot be used with params.key: give one",
        });
      } else if (params.key === undefined && params.prefix === undefined) {
        ctx.addIssue({ code: "custom", path: ["key"], message: "or params.prefix is required" });
      }
      if (params.prefix !== undefined && params.maxAgeMinutes === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["maxAgeMinutes"],
          message: "is required with params.prefix (how old may the newest object be?)",
        });
      }
    }),
  );
export type S3ObjectFreshnessParams = z.infer<typeof S3ObjectFreshnessParamsSchema>;

type S3Sdk = typeof import("@aws-sdk/client-s3");

interface FoundObject {
  key: string;
  lastModified: Date;
  size: number;
}

export interface S3ObjectFreshnessOptions {
  /** Client for a region (undefined: the SDK's). @default cached `new S3Client(checkClientConfig(region))` */
  clientFor?: (region: string | undefined) => S3Client;
}

const s3Url = (bucket: string, key: string) => `s3://${bucket}/${key}`;
const readArn = (bucket: string) => `arn:aws:s3:::${bucket}`;

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isDenied(error: unknown): boolean {
  const name = (error as Error).name;
  return name === "AccessDenied" || name === "Forbidden" || statusOf(error) === 403;
}

function isMissingBucket(error: unknown): boolean {
  return (error as Error).name === "NoSuchBucket";
}

function denied(bucket: string, what: string): CheckResult {
  return {
    isOk: false,
    message: `access denied to ${what}: the orchestrator may not read bucket ${bucket} (list ${readArn(bucket)} in the stack setting checkReadArns)`,
  };
}

const missingBucket = (bucket: string): CheckResult => ({
  isOk: false,
  message: `bucket ${bucket} does not exist`,
});

export function createS3ObjectFreshnessCheck(options: S3ObjectFreshnessOptions = {}): CheckDefinition {
  // Loaded on the first run only: a fleet of http monitors never parses the S3 client.
  const loadSdk = lazyImport((): Promise<S3Sdk> => import("@aws-sdk/client-s3"));
  let clients: ((region: string | undefined) => S3Client) | undefined = options.clientFor;

  async function clientFor(region: string | undefined): Promise<{ s3: S3Sdk; client: S3Client }> {
    const s3 = await loadSdk();
    clients ??= regionalClients(
      // A bucket in another region than the client's is followed (S3 answers with its region).
      (clientRegion) => new s3.S3Client({ ...checkClientConfig(clientRegion), followRegionRedirects: true }),
    );
    return { s3, client: clients(region) };
  }

  /** Why there is no readable object at the key, told apart with one listing of the key itself. */
  async function explainMissing(
    s3: S3Sdk,
    client: S3Client,
    bucket: string,
    key: string,
    headError: unknown,
    signal: AbortSignal,
  ): Promise<"no-object" | "no-bucket" | "denied"> {
    try {
      const listed = await client.send(
        new s3.ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1 }),
        { abortSignal: signal },
      );
      // Listed but not readable: GetObject is what is denied.
      return listed.Contents?.[0]?.Key === key ? "denied" : "no-object";
    } catch (error) {
      if (signal.aborted) throw abortedError(signal, `ListObjectsV2 on bucket ${bucket}`);
      if (isMissingBucket(error)) return "no-bucket";
      // HeadObject's 404 already says the object is missing (it takes s3:ListBucket to get one).
      return statusOf(headError) === 404 ? "no-object" : "denied";
    }
  }

  async function headObject(
    params: S3ObjectFreshnessParams,
    key: string,
    signal: AbortSignal,
  ): Promise<FoundObject | CheckResult> {
    const { s3, client } = await clientFor(params.region);
    try {
      const head = await client.send(new s3.HeadObjectCommand({ Bucket: params.bucket, Key: key }), {
        abortSignal: signal,
      });
      return { key, lastModified: head.LastModified ?? new Date(0), size: head.ContentLength ?? 0 };
    } catch (error) {
      if (signal.aborted) throw abortedError(signal, `HeadObject on ${s3Url(params.bucket, key)}`);
      const status = statusOf(error);
      if (status !== 404 && status !== 403 && !isDenied(error)) {
        return {
          isOk: false,
          message: `HeadObject on ${s3Url(params.bucket, key)} failed: ${errorText(error)}`,
        };
      }
      // S3 answers 403, not 404, for a missing object to a caller that may not list the bucket.
      const why = await explainMissing(s3, client, params.bucket, key, error, signal);
      if (why === "no-bucket") return missingBucket(params.bucket);
      if (why === "denied") return denied(params.bucket, s3Url(params.bucket, key));
      return { isOk: false, message: `no object ${s3Url(params.bucket, key)}` };
    }
  }

  async function newestUnder(
    params: S3ObjectFreshnessParams,
    prefix: string,
    signal: AbortSignal,
  ): Promise<FoundObject | CheckResult | undefined> {
    const { s3, client } = await clientFor(params.region);
    let newest: FoundObject | undefined;
    let token: string | undefined;
    for (let page = 0; page < params.maxListPages; page++) {
      let output: ListObjectsV2CommandOutput;
      try {
        output = await client.send(
          new s3.ListObjectsV2Command({
            Bucket: params.bucket,
            Prefix: prefix,
            MaxKeys: LIST_PAGE_SIZE,
            ContinuationToken: token,
          }),
          { abortSignal: signal },
        );
      } catch (error) {
        if (signal.aborted) throw abortedError(signal, `ListObjectsV2 on ${s3Url(params.bucket, prefix)}`);
        if (isMissingBucket(error)) return missingBucket(params.bucket);
        if (isDenied(error)) return denied(params.bucket, `the listing of ${s3Url(params.bucket, prefix)}`);
        return {
          isOk: false,
          message: `ListObjectsV2 on ${s3Url(params.bucket, prefix)} failed: ${errorText(error)}`,
        };
      }
      for (const object of output.Contents ?? []) {
        // A console "folder" is an empty object named `name/`: not a file that landed.
        if (!object.Key || object.Key.endsWith("/") || !object.LastModified) continue;
        if (!newest || object.LastModified.getTime() > newest.lastModified.getTime()) {
          newest = { key: object.Key, lastModified: object.LastModified, size: object.Size ?? 0 };
        }
      }
      token = output.IsTruncated ? output.NextContinuationToken : undefined;
      if (!token) return newest;
    }
    const listed = params.maxListPages * LIST_PAGE_SIZE;
    return {
      isOk: false,
      message: `more than ${listed.toLocaleString("en-US")} objects under ${s3Url(params.bucket, prefix)} (params.maxListPages ${params.maxListPages}): the newest cannot be told; narrow params.prefix, e.g. with a date pattern such as exports/{yyyy}/{MM}/{dd}/, or use params.key`,
    };
  }

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(S3_OBJECT_FRESHNESS_CHECK, S3ObjectFreshnessParamsSchema, ctx.params);
    const timezone = ctx.timezone ?? "UTC";
    const pattern = params.key ?? params.prefix ?? "";
    let time: CalendarTime | undefined;
    let target = pattern;
    if (hasDateTokens(pattern)) {
      time = calendarTime(ctx.now, timezone, params.dateOffsetDays);
      target = fillDatePattern(pattern, time);
    }
    // Says which date a dated pattern was filled with: the first thing to check when a file is
    // "missing" is the day and the zone it was looked for in.
    const dated = time ? ` (${time.yyyy}-${time.MM}-${time.dd} in ${timezone})` : "";

    const found =
      params.key !== undefined
        ? await headObject(params, target, ctx.signal)
        : await newestUnder(params, target, ctx.signal);
    if (found === undefined) {
      return { isOk: false, message: `no objects under ${s3Url(params.bucket, target)}${dated}` };
    }
    if ("isOk" in found) return { ...found, message: `${found.message}${dated}` };

    const url = s3Url(params.bucket, found.key);
    const ageMs = ctx.now.getTime() - found.lastModified.getTime();
    const age = ageMs >= 0 ? `${formatDuration(ageMs)} old` : `${formatDuration(ageMs)} in the future`;
    const subject = params.key !== undefined ? url : `newest object ${url}`;
    ctx.logger.debug("s3-object-freshness check", { bucket: params.bucket, ageMs, size: found.size });

    if (found.size < params.minBytes) {
      return {
        isOk: false,
        message: `${subject} is ${formatBytes(found.size)}, below params.minBytes (${plural(params.minBytes, "byte")})`,
      };
    }
    const modified = `last modified ${found.lastModified.toISOString()}`;
    if (params.maxAgeMinutes === undefined) {
      return { isOk: true, message: `${subject} exists (${formatBytes(found.size)}, ${modified})` };
    }
    const isOk = ageMs <= params.maxAgeMinutes * 60_000;
    return {
      isOk,
      message: `${subject} is ${age} (limit ${params.maxAgeMinutes}m), ${formatBytes(found.size)}, ${modified}`,
    };
  }

  return {
    name: S3_OBJECT_FRESHNESS_CHECK,
    description:
      "OK while the S3 object at params.key (date tokens {yyyy} {MM} {dd} {HH} in the monitor's timezone), or the newest under params.prefix, exists, is younger than params.maxAgeMinutes and holds at least params.minBytes (default 1).",
    paramsSchema: S3ObjectFreshnessParamsSchema,
    example: {
      name: "Today's orders export landed",
      schedule: "cron(30 7 ? * MON-FRI *)",
      params: { bucket: "partner-exports", key: "exports/{yyyy}/{MM}/{dd}/orders.csv", minBytes: 100 },
    },
    run,
  };
}

export const s3ObjectFreshnessCheck = createS3ObjectFreshnessCheck();
