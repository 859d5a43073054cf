import { readFile } from "node:fs/promises";
import { type DynamoDBDocumentClient, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import * as z from "zod";
import { CONFIG_RECORD, formatProblems, MonitorIdSchema, parseConfigLeniently } from "#core/schemas.ts";

/**
 * Example monitors for a first `npm start`, written as config items exactly as a person would
 * write them, so that they reach the scheduler through the table's stream like any other edit.
 */

export const DEFAULT_SEED_FILE = new URL("./seed-monitors.json", import.meta.url);

export class SeedFileError extends Error {
  override name = "SeedFileError";
}

/** Placeholders the seed file may use, filled in at start (ports differ between machines). */
export interface SeedVariables {
  demoSiteUrl: string;
}

function substitute(text: string, variables: SeedVariables): string {
  return text.replaceAll(/\{\{(\w+)\}\}/g, (match, name: string) => {
    const value = (variables as unknown as Record<string, string>)[name];
    if (value === undefined) throw new SeedFileError(`unknown placeholder ${match} in the seed file`);
    return value;
  });
}

const SeedFileSchema = z.array(z.record(z.string(), z.unknown()));

/** Reads and validates the seed file; a broken example must fail loudly, not seed a broken demo. */
export async function loadSeedMonitors(
  file: URL | string,
  variables: SeedVariables,
): Promise<Array<Record<string, unknown>>> {
  const raw = substitute(await readFile(file, "utf8"), variables);
  const items = SeedFileSchema.parse(JSON.parse(raw));
  for (const item of items) {
    const id = MonitorIdSchema.safeParse(item.monitorId);
    const { problems } = parseConfigLeniently(String(item.monitorId), item);
    if (!id.success)
      problems.unshift({ attribute: "monitorId", message: id.error.issues[0]?.message ?? "is invalid" });
    if (problems.length > 0)
      throw new SeedFileError(
        `seed monitor ${String(item.monitorId)} is invalid: ${formatProblems(problems)}`,
      );
  }
  return items;
}

export async function tableIsEmpty(doc: DynamoDBDocumentClient, tableName: string): Promise<boolean> {
  const page = await doc.send(
    new ScanCommand({ TableName: tableName, Limit: 1, ProjectionExpression: "monitorId" }),
  );
  return (page.Items ?? []).length === 0 && page.LastEvaluatedKey === undefined;
}

/** Writes the config items; an item that already exists is left as its owner edited it. */
export async function seedMonitors(
  doc: DynamoDBDocumentClient,
  tableName: string,
  items: ReadonlyArray<Record<string, unknown>>,
): Promise<string[]> {
  const written: string[] = [];
  for (const item of items) {
    try {
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...item, record: CONFIG_RECORD },
          ConditionExpression: "attribute_not_exists(monitorId)",
        }),
      );
      written.push(String(item.monitorId));
    } catch (error) {
      if ((error as Error).name !== "ConditionalCheckFailedException") throw error;
    }
  }
  return written;
}
