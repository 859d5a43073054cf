import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import * as z from "zod/mini";
import { abortedError } from "./support/abort.ts";
import { checkClientConfig, REGION_PATTERN, regionalClients } from "./support/clients.ts";
import { errorText, formatDuration } from "./support/format.ts";
import { must, mustBe, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `dynamodb-freshness`: "did today's feed arrive?". Queries one partition newest-first (Limit 1)
 * and fails when its newest item is older than `maxAgeMinutes`. Age is measured against the
 * tick's logical time, so a replayed tick judges the data as it was then. An empty partition is
 * a failed check; a missing table or an unreadable timestamp throws: the check could not look.
 * Messages name attributes, ages and limits, never an item's attribute values (those may be
 * customer data or secrets): an unreadable timestamp is described by its type and length.
 */

export const DYNAMODB_FRESHNESS_CHECK = "dynamodb-freshness";

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const TABLE_ARN = /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[A-Za-z0-9_.-]{3,255}$/;

const AttributeNameSchema = z
  .string({ error: must("must be an attribute name") })
  .check(z.minLength(1, "must be an attribute name"), z.maxLength(255, "must be at most 255 characters"));

export const DynamodbFreshnessParamsSchema = z.strictObject({
  tableName: z
    .string({ error: must("must be a DynamoDB table name or ARN") })
    .check(
      z.refine(
        (value) => TABLE_NAME.test(value) || TABLE_ARN.test(value),
        "must be a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -) or table ARN",
      ),
    )
    .register(z.globalRegistry, { description: "Table name or table ARN to query." }),
  indexName: z
    .optional(
      z
        .string({ error: must("must be an index name") })
        .check(z.regex(TABLE_NAME, "must be an index name (3-255 of A-Z a-z 0-9 _ . -)")),
    )
    .register(z.globalRegistry, {
      description:
        "Query this global or local secondary index instead; partitionKey and sortKey are then the index's.",
      defaultText: "the table itself",
    }),
  partitionKey: z
    .strictObject(
      {
        name: AttributeNameSchema,
        value: z.union([z.string().check(z.minLength(1)), z.number()], {
          error: must("must be a non-empty string or a number"),
        }),
      },
      { error: mustBe("must be a map like { name: 'feedId', value: 'compass' }") },
    )
    .register(z.globalRegistry, {
      description:
        'The partition to look at: its key attribute name and value (string or number), e.g. {"name": "feedId", "value": "compass"}.',
    }),
  // A clone: AttributeNameSchema is shared (classic zod's `.meta()` cloned too).
  sortKey: AttributeNameSchema.clone().register(z.globalRegistry, {
    description: "Sort key attribute of the table (or index): the newest item is the last by it.",
  }),
  timestampAttribute: z.optional(AttributeNameSchema).register(z.globalRegistry, {
    description:
      "Attribute holding the item's time: an ISO-8601 string (UTC when it has no zone) or epoch seconds or milliseconds.",
    defaultText: "the sort key",
  }),
  maxAgeMinutes: z
    .number({ error: must("must be a positive number of minutes") })
    .check(z.positive())
    .register(z.globalRegistry, {
      description: "Oldest acceptable age of the newest item, in minutes, from the tick's scheduled time.",
    }),
  region: z
    .optional(
      z
        .string({ error: must("must be an AWS region such as us-east-1") })
        .check(z.regex(REGION_PATTERN, "must be an AWS region such as us-east-1")),
    )
    .register(z.globalRegistry, {
      description: "Region of the table.",
      defaultText: "the SDK's region (AWS_REGION)",
    }),
});
export type DynamodbFreshnessParams = z.infer<typeof DynamodbFreshnessParamsSchema>;

// Below this an epoch number is seconds (1e11 s is the year 5138; 1e11 ms is 1973).
const SECONDS_BELOW = 1e11;
// Above this it is neither seconds nor milliseconds (1e14 ms is the year 5138).
const MILLISECONDS_BELOW = 1e14;
const EPOCH_NUMBER = /^-?\d+(\.\d+)?$/;
const ISO_8601 =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

export type ParsedTimestamp = { ok: true; date: Date } | { ok: false; problem: string };

function fromEpoch(value: number): ParsedTimestamp {
  const magnitude = Math.abs(value);
  if (!Number.isFinite(value) || magnitude >= MILLISECONDS_BELOW) {
    return { ok: false, problem: "is not a plausible epoch time in seconds or milliseconds" };
  }
  return { ok: true, date: new Date(magnitude < SECONDS_BELOW ? value * 1000 : value) };
}

/** `Z`, `+0100`, `+01` and no zone at all, as the `+01:00` / `Z` that Date.parse reliably reads. */
function normalizeZone(zone: string | undefined): string {
  const offset = zone ? /^([+-]\d{2}):?(\d{2})?$/.exec(zone) : null;
  return offset ? `${offset[1]}:${offset[2] ?? "00"}` : "Z";
}

/**
 * Reads a timestamp attribute: an ISO-8601 string (a time without a zone is taken as UTC, so the
 * result never depends on the Lambda's TZ), or epoch seconds / milliseconds as a number or a
 * numeric string (told apart by magnitude).
 */
export function parseTimestamp(value: unknown): ParsedTimestamp {
  if (typeof value === "number") return fromEpoch(value);
  if (typeof value !== "string") {
    const type =
      value === null ? "null" : Array.isArray(value) || value instanceof Set ? "a list" : typeof value;
    return { ok: false, problem: `is ${type}, not an ISO-8601 string or epoch number` };
  }
  const text = value.trim();
  if (EPOCH_NUMBER.test(text)) return fromEpoch(Number(text));
  const match = ISO_8601.exec(text);
  if (match) {
    const [, date, time, zone] = match;
    const parsed = Date.parse(time ? `${date}T${time}${normalizeZone(zone)}` : `${date}T00:00:00Z`);
    if (!Number.isNaN(parsed)) return { ok: true, date: new Date(parsed) };
  }
  // Never the value itself: the attribute may hold customer data or a secret, and the message
  // ends up in alert emails, the state item and the logs.
  return {
    ok: false,
    problem: `is ${describeString(value)}, not an ISO-8601 time or epoch seconds/milliseconds`,
  };
}

/** A string attribute described without its content: `a string of 32 characters`. */
function describeString(value: string): string {
  if (value.length === 0) return "an empty string";
  const characters = [...value].length;
  return `a string of ${characters} character${characters === 1 ? "" : "s"}`;
}

export interface DynamodbFreshnessOptions {
  /**
   * Document client for a region (undefined: the SDK's default); give it the default's
   * `unmarshallOptions.wrapNumbers` so that an odd number cannot put its digits into an error.
   * @default cached client per region
   */
  clientFor?: (region: string | undefined) => DynamoDBDocumentClient;
}

export function createDynamodbFreshnessCheck(options: DynamodbFreshnessOptions = {}): CheckDefinition {
  const clientFor =
    options.clientFor ??
    regionalClients((region) =>
      DynamoDBDocumentClient.from(new DynamoDBClient(checkClientConfig(region)), {
        // The SDK's default throws on a number beyond 2^53 that BigInt cannot hold, with the number
        // in its message (which would reach the check's message): read every number as a plain
        // double instead. Precision beyond 2^53 does not matter for a timestamp.
        unmarshallOptions: { wrapNumbers: (digits: string) => Number(digits) },
      }),
    );

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(DYNAMODB_FRESHNESS_CHECK, DynamodbFreshnessParamsSchema, ctx.params);
    const { tableName, indexName, partitionKey, sortKey, maxAgeMinutes } = params;
    const timestampAttribute = params.timestampAttribute ?? sortKey;
    const source = indexName ? `table ${tableName} (index ${indexName})` : `table ${tableName}`;
    const where = `${partitionKey.name} = ${JSON.stringify(partitionKey.value)}`;

    // Placeholders for every name: attribute names may be reserved words ("date", "timestamp").
    const projected = [...new Set([partitionKey.name, sortKey, timestampAttribute])];
    const names = Object.fromEntries(projected.map((name, index) => [`#a${index}`, name]));
    let items: Record<string, unknown>[] | undefined;
    try {
      const output = await clientFor(params.region).send(
        new QueryCommand({
          TableName: tableName,
          IndexName: indexName,
          KeyConditionExpression: "#a0 = :pk",
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ":pk": partitionKey.value },
          ProjectionExpression: Object.keys(names).join(", "),
          ScanIndexForward: false,
          Limit: 1,
        }),
        { abortSignal: ctx.signal },
      );
      items = output.Items;
    } catch (error) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal, `query on ${source}`);
      if ((error as Error).name === "ResourceNotFoundException") {
        throw new Error(`${source} does not exist (or is not active) in this account and region`, {
          cause: error,
        });
      }
      throw new Error(`query on ${source} where ${where} failed: ${errorText(error)}`, { cause: error });
    }

    const newest = items?.[0];
    if (!newest) return { isOk: false, message: `no items for partition ${where} in ${source}` };

    const raw = newest[timestampAttribute];
    if (raw === undefined) {
      throw new Error(
        `newest item in ${source} where ${where} has no attribute ${JSON.stringify(timestampAttribute)}: check params.timestampAttribute`,
      );
    }
    const parsed = parseTimestamp(raw);
    if (!parsed.ok) {
      throw new Error(
        `newest item in ${source} where ${where}: attribute ${JSON.stringify(timestampAttribute)} ${parsed.problem}`,
      );
    }

    const ageMs = ctx.now.getTime() - parsed.date.getTime();
    const isOk = ageMs <= maxAgeMinutes * 60_000;
    const age = ageMs >= 0 ? `${formatDuration(ageMs)} old` : `${formatDuration(ageMs)} in the future`;
    const detail = `${timestampAttribute} ${parsed.date.toISOString()} in ${source} where ${where}`;
    ctx.logger.debug("dynamodb-freshness check", { source, ageMs, maxAgeMinutes });
    return { isOk, message: `newest item is ${age} (limit ${maxAgeMinutes}m): ${detail}` };
  }

  return {
    name: DYNAMODB_FRESHNESS_CHECK,
    description:
      "OK while the newest item of a DynamoDB partition (by its sort key) is younger than params.maxAgeMinutes.",
    paramsSchema: DynamodbFreshnessParamsSchema,
    example: {
      name: "Compass feed arrived",
      schedule: "rate(15 minutes)",
      params: {
        tableName: "feeds",
        partitionKey: { name: "feedId", value: "compass" },
        sortKey: "arrivedAt",
        maxAgeMinutes: 90,
      },
    },
    run,
  };
}

export const dynamodbFreshnessCheck = createDynamodbFreshnessCheck();
