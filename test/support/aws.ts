import { randomUUID } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SESv2Client } from "@aws-sdk/client-sesv2";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import { createMonitorsTable } from "../../local/resources.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/servers.ts";

/** SDK clients pointed at local servers with fake credentials. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
}

export function localDynamo(endpoint = inject("dynamoEndpoint")) {
  const client = new DynamoDBClient(localClientConfig(endpoint));
  return {
    client,
    doc: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
  };
}

export const localSes = (endpoint: string) => new SESv2Client(localClientConfig(endpoint));
export const localSqs = (endpoint: string) => new SQSClient(localClientConfig(endpoint));

/** A fresh table on the project's DynamoDB Local: test files never share one. */
export async function freshTable(prefix = "monitors"): Promise<{ tableName: string; streamArn: string }> {
  const tableName = `${prefix}-${randomUUID().slice(0, 8)}`;
  const { client } = localDynamo();
  const { streamArn } = await createMonitorsTable(client, tableName);
  client.destroy();
  return { tableName, streamArn };
}

/**
 * Points the AWS SDK's standard variables at the local servers, as Lambda's environment would
 * point them at AWS: handlers read nothing else.
 */
export function setAwsEnvironment(endpoints: {
  dynamodb?: string;
  sesv2?: string;
  sqs?: string;
  scheduler?: string;
}) {
  process.env.AWS_REGION = LOCAL_REGION;
  process.env.AWS_ACCESS_KEY_ID = LOCAL_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = LOCAL_CREDENTIALS.secretAccessKey;
  if (endpoints.dynamodb) process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoints.dynamodb;
  if (endpoints.sesv2) process.env.AWS_ENDPOINT_URL_SESV2 = endpoints.sesv2;
  if (endpoints.sqs) process.env.AWS_ENDPOINT_URL_SQS = endpoints.sqs;
  if (endpoints.scheduler) process.env.AWS_ENDPOINT_URL_SCHEDULER = endpoints.scheduler;
}

/** Mail captured by aws-ses-v2-local. */
export interface CapturedEmail {
  messageId: string;
  from: string;
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { text?: string; html?: string };
  at: number;
}

export async function capturedEmails(sesEndpoint: string): Promise<CapturedEmail[]> {
  const response = await fetch(`${sesEndpoint}/store`);
  const { emails } = (await response.json()) as { emails: CapturedEmail[] };
  return emails;
}

export async function clearEmails(sesEndpoint: string): Promise<void> {
  await fetch(`${sesEndpoint}/clear-store`, { method: "POST" });
}

/**
 * Writes a config item as a person would. Synthetic test ticks are long past, so backlog skipping
 * is off unless the test turns it on.
 */
export async function putMonitorConfig(
  tableName: string,
  monitorId: string,
  attributes: Record<string, unknown>,
) {
  const { doc } = localDynamo();
  await doc.send(
    new PutCommand({
      TableName: tableName,
      Item: { monitorId, record: "config", skipSupersededTicks: false, ...attributes },
    }),
  );
  doc.destroy();
}
