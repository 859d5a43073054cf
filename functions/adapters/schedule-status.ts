import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
} from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { boundedRequestHandler } from "#adapters/aws-request-handler.ts";
import type { ScheduleProblemStatus } from "#core/schedule-sync.ts";
import { CONFIG_RECORD, STATE_RECORD } from "#core/schemas.ts";

/**
 * ScheduleStatusPort on the monitor's state item. Every effective write bumps `version`, because
 * the orchestrator writes the whole state item conditionally on the version it read: without the
 * bump it would overwrite `scheduleError` with the copy it read before.
 */
export class DynamoDbScheduleStatus implements ScheduleProblemStatus {
  private readonly doc: DynamoDBDocumentClient;

  constructor(
    private readonly tableName: string,
    client: DynamoDBClient | DynamoDBDocumentClient = new DynamoDBClient({
      requestHandler: boundedRequestHandler(),
    }),
  ) {
    this.doc = client instanceof DynamoDBDocumentClient ? client : DynamoDBDocumentClient.from(client);
  }

  async reportError(monitorId: string, message: string): Promise<void> {
    await this.recordError(monitorId, message);
  }

  /** True when the write happened: the stored error was absent or different (a new problem). */
  async recordError(monitorId: string, message: string): Promise<boolean> {
    return this.ignoringConditionFailure(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { monitorId, record: STATE_RECORD },
        UpdateExpression: "SET scheduleError = :message, version = if_not_exists(version, :zero) + :one",
        // Stream retries report the same error again: leave the item (and its version) alone then.
        ConditionExpression: "attribute_not_exists(scheduleError) OR scheduleError <> :message",
        ExpressionAttributeValues: { ":message": message, ":zero": 0, ":one": 1 },
      }),
    );
  }

  async clearError(monitorId: string): Promise<void> {
    await this.ignoringConditionFailure(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { monitorId, record: STATE_RECORD },
        UpdateExpression: "REMOVE scheduleError SET version = if_not_exists(version, :zero) + :one",
        // Also keeps a missing state item missing: nothing to clear, nothing to create.
        ConditionExpression: "attribute_exists(scheduleError)",
        ExpressionAttributeValues: { ":zero": 0, ":one": 1 },
      }),
    );
  }

  /**
   * Deletes the state item (idempotent), only while the config item is still gone: a REMOVE record
   * processed late, after the monitor was created again, must not wipe the new monitor's state.
   */
  async forgetState(monitorId: string): Promise<void> {
    try {
      await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: { monitorId, record: CONFIG_RECORD },
                ConditionExpression: "attribute_not_exists(monitorId)",
              },
            },
            { Delete: { TableName: this.tableName, Key: { monitorId, record: STATE_RECORD } } },
          ],
        }),
      );
    } catch (error) {
      const reasons = error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
      // The monitor exists again: its state is the new monitor's, keep it.
      if (reasons[0]?.Code === "ConditionalCheckFailed") return;
      throw error;
    }
  }

  /** Resolves true when the update was applied, false when its condition did not hold. */
  private async ignoringConditionFailure(command: UpdateCommand): Promise<boolean> {
    try {
      await this.doc.send(command);
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return false;
    }
  }
}
