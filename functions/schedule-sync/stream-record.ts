import type { AttributeValue, DynamoDBRecord } from "aws-lambda";
import type { ConfigChange, ConfigChangeKind } from "#core/schedule-sync.ts";

/**
 * Stream images arrive in DynamoDB's typed JSON (`{"S": "..."}`). Only a handful of attributes
 * matter to schedule-sync, so a small decoder keeps this edge free of an extra SDK dependency.
 */
export function fromAttributeValue(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return Number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.M !== undefined) return fromImage(value.M);
  if (value.L !== undefined) return value.L.map(fromAttributeValue);
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(Number);
  if (value.B !== undefined) return value.B;
  if (value.BS !== undefined) return [...value.BS];
  return undefined;
}

export function fromImage(image: Record<string, AttributeValue>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, fromAttributeValue(value)]));
}

const KINDS: ReadonlySet<string> = new Set<ConfigChangeKind>(["INSERT", "MODIFY", "REMOVE"]);

export class MalformedStreamRecordError extends Error {
  override name = "MalformedStreamRecordError";
}

/** The plain-value view of a stream record that the pure decision works on. */
export function toConfigChange(record: DynamoDBRecord): ConfigChange {
  const kind = record.eventName;
  if (!kind || !KINDS.has(kind)) {
    throw new MalformedStreamRecordError(`unexpected eventName ${JSON.stringify(kind)}`);
  }
  const keys = record.dynamodb?.Keys;
  if (!keys) throw new MalformedStreamRecordError("stream record has no Keys");
  const newImage = record.dynamodb?.NewImage;
  const oldImage = record.dynamodb?.OldImage;
  return {
    kind: kind as ConfigChangeKind,
    keys: fromImage(keys),
    ...(newImage ? { newImage: fromImage(newImage) } : {}),
    ...(oldImage ? { oldImage: fromImage(oldImage) } : {}),
  };
}
