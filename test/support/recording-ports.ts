import type { ScheduleDefinition, SchedulerPort, ScheduleStatusPort } from "../../functions/core/ports.ts";

export type SchedulerCall =
  | { op: "upsert"; definition: ScheduleDefinition }
  | { op: "remove"; monitorId: string }
  | { op: "describe"; monitorId: string }
  | { op: "list" };

/**
 * A SchedulerPort that keeps schedules in memory and records every call. `failNext` makes the next
 * calls for a monitor throw, as Scheduler throttling would.
 */
export class RecordingScheduler implements SchedulerPort {
  readonly calls: SchedulerCall[] = [];
  readonly schedules = new Map<string, ScheduleDefinition>();
  private readonly failures = new Map<string, Error[]>();

  failNext(monitorId: string, error: Error = throttling(), times = 1): void {
    this.failures.set(monitorId, [...(this.failures.get(monitorId) ?? []), ...Array(times).fill(error)]);
  }

  private maybeFail(monitorId: string): void {
    const pending = this.failures.get(monitorId);
    const error = pending?.shift();
    if (error) throw error;
  }

  async upsert(definition: ScheduleDefinition): Promise<void> {
    this.calls.push({ op: "upsert", definition });
    this.maybeFail(definition.monitorId);
    this.schedules.set(definition.monitorId, definition);
  }

  async remove(monitorId: string): Promise<void> {
    this.calls.push({ op: "remove", monitorId });
    this.maybeFail(monitorId);
    this.schedules.delete(monitorId);
  }

  /** ScheduleReader: the schedule as stored. */
  async describe(monitorId: string): Promise<ScheduleDefinition | undefined> {
    this.calls.push({ op: "describe", monitorId });
    return this.schedules.get(monitorId);
  }

  async list(): Promise<string[]> {
    this.calls.push({ op: "list" });
    return [...this.schedules.keys()].sort();
  }
}

export function throttling(): Error {
  return Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
}

export type StatusCall =
  | { op: "reportError"; monitorId: string; message: string }
  | { op: "clearError"; monitorId: string };

/** A ScheduleStatusPort that records calls and keeps the current error per monitor. */
export class RecordingStatus implements ScheduleStatusPort {
  readonly calls: StatusCall[] = [];
  readonly errors = new Map<string, string>();

  async reportError(monitorId: string, message: string): Promise<void> {
    await this.recordError(monitorId, message);
  }

  /** ScheduleProblemStatus: true when the error differs from the one stored. */
  async recordError(monitorId: string, message: string): Promise<boolean> {
    this.calls.push({ op: "reportError", monitorId, message });
    const isNew = this.errors.get(monitorId) !== message;
    this.errors.set(monitorId, message);
    return isNew;
  }

  async clearError(monitorId: string): Promise<void> {
    this.calls.push({ op: "clearError", monitorId });
    this.errors.delete(monitorId);
  }
}
