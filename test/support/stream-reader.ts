import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from "@aws-sdk/client-dynamodb-streams";
import type { AttributeValue, DynamoDBRecord } from "aws-lambda";

/** Reads a table's stream from its start, shard by shard, remembering where it stopped. */
export class StreamReader {
  private iterators = new Map<string, string | undefined>();

  constructor(
    private readonly streams: DynamoDBStreamsClient,
    private readonly streamArn: string,
  ) {}

  /** Lambda's event record for a Streams API record: same attribute-value JSON, epoch seconds. */
  private toLambdaRecord(record: StreamRecord): DynamoDBRecord {
    const data = record.dynamodb ?? {};
    return {
      eventID: record.eventID,
      eventName: record.eventName,
      eventVersion: record.eventVersion,
      eventSource: "aws:dynamodb",
      awsRegion: record.awsRegion,
      dynamodb: {
        Keys: data.Keys as Record<string, AttributeValue>,
        NewImage: data.NewImage as Record<string, AttributeValue> | undefined,
        OldImage: data.OldImage as Record<string, AttributeValue> | undefined,
        SequenceNumber: data.SequenceNumber,
        SizeBytes: data.SizeBytes,
        StreamViewType: data.StreamViewType,
        ApproximateCreationDateTime: data.ApproximateCreationDateTime
          ? Math.floor(data.ApproximateCreationDateTime.getTime() / 1000)
          : undefined,
      },
      eventSourceARN: this.streamArn,
    };
  }

  private async shardIterators(): Promise<Map<string, string | undefined>> {
    const description = await this.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn }));
    for (const shard of description.StreamDescription?.Shards ?? []) {
      if (!shard.ShardId || this.iterators.has(shard.ShardId)) continue;
      const { ShardIterator } = await this.streams.send(
        new GetShardIteratorCommand({
          StreamArn: this.streamArn,
          ShardId: shard.ShardId,
          ShardIteratorType: "TRIM_HORIZON",
        }),
      );
      this.iterators.set(shard.ShardId, ShardIterator);
    }
    return this.iterators;
  }

  /** The next `count` records (polling until they arrive). */
  async next(count: number): Promise<DynamoDBRecord[]> {
    const records: DynamoDBRecord[] = [];
    const deadline = Date.now() + 10_000;
    while (records.length < count) {
      if (Date.now() > deadline) throw new Error(`stream delivered ${records.length} of ${count} records`);
      for (const [shardId, iterator] of await this.shardIterators()) {
        if (!iterator) continue;
        const page = await this.streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        this.iterators.set(shardId, page.NextShardIterator);
        records.push(...(page.Records ?? []).map((record) => this.toLambdaRecord(record)));
      }
      if (records.length < count) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return records;
  }
}
