import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, paginateQuery } from "@aws-sdk/lib-dynamodb";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import {
  CHANNEL_RECORD_PREFIX,
  CHANNELS_PARTITION,
  type ChannelDefinition,
  ChannelDefinitionSchema,
  type ChannelDirectory,
} from "#core/channels.ts";

/**
 * Channel items on the Monitors table (issue 15): `{monitorId: "__channels", record: "channel#<name>",
 * kind, ...}`. One Query reads them all; writes are whole-item puts of a validated definition.
 */

export interface DynamoDbChannelsOptions {
  tableName: string;
  /** @default a DynamoDBClient with bounded requests */
  client?: DynamoDBClient | DynamoDBDocumentClient;
}

/** Why a stored channel item is unusable, in words (zod's issues, one per line). */
function describeIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues.map((issue) => `${issue.path.map(String).join(".") || "item"}: ${issue.message}`).join("; ");
}

/** The definition a stored item holds, or the reason it holds none. */
export function parseChannelItem(
  item: Record<string, unknown>,
): { name: string; channel?: ChannelDefinition; problem?: string } | undefined {
  const record = item.record;
  if (typeof record !== "string" || !record.startsWith(CHANNEL_RECORD_PREFIX)) return undefined;
  const name = record.slice(CHANNEL_RECORD_PREFIX.length);
  const { monitorId: _partition, record: _record, ...fields } = item;
  const parsed = ChannelDefinitionSchema.safeParse({ ...fields, name });
  return parsed.success
    ? { name, channel: parsed.data }
    : { name, problem: describeIssues(parsed.error.issues) };
}

export class DynamoDbChannels implements ChannelDirectory {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: DynamoDbChannelsOptions) {
    const client = options.client ?? new DynamoDBClient({ requestHandler: boundedRequestHandler() });
    this.#doc = client instanceof DynamoDBDocumentClient ? client : DynamoDBDocumentClient.from(client);
    this.#table = options.tableName;
  }

  async list(): Promise<{
    channels: Map<string, ChannelDefinition>;
    problems: { name: string; message: string }[];
  }> {
    const channels = new Map<string, ChannelDefinition>();
    const problems: { name: string; message: string }[] = [];
    const pages = paginateQuery(
      { client: this.#doc },
      {
        TableName: this.#table,
        KeyConditionExpression: "monitorId = :partition AND begins_with(#record, :prefix)",
        ExpressionAttributeNames: { "#record": "record" },
        ExpressionAttributeValues: { ":partition": CHANNELS_PARTITION, ":prefix": CHANNEL_RECORD_PREFIX },
        // A channel edited a moment ago must be used by the next notification.
        ConsistentRead: true,
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        const parsed = parseChannelItem(item);
        if (!parsed) continue;
        if (parsed.channel) channels.set(parsed.name, parsed.channel);
        else problems.push({ name: parsed.name, message: parsed.problem ?? "unreadable" });
      }
    }
    return { channels, problems };
  }

  /** Creates or replaces a channel; the definition is validated first (a bad one throws, naming why). */
  async put(definition: unknown): Promise<ChannelDefinition> {
    const parsed = ChannelDefinitionSchema.safeParse(definition);
    if (!parsed.success) throw new Error(`invalid channel: ${describeIssues(parsed.error.issues)}`);
    const { name, ...fields } = parsed.data;
    await this.#doc.send(
      new PutCommand({
        TableName: this.#table,
        Item: { monitorId: CHANNELS_PARTITION, record: `${CHANNEL_RECORD_PREFIX}${name}`, ...fields },
      }),
    );
    return parsed.data;
  }

  /** Deletes a channel; false when there was none. */
  async remove(name: string): Promise<boolean> {
    const { Attributes } = await this.#doc.send(
      new DeleteCommand({
        TableName: this.#table,
        Key: { monitorId: CHANNELS_PARTITION, record: `${CHANNEL_RECORD_PREFIX}${name}` },
        ReturnValues: "ALL_OLD",
      }),
    );
    return Attributes !== undefined;
  }
}
