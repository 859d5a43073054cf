import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  ResourceNotFoundException,
  SchedulerClient,
  ThrottlingException,
  UpdateScheduleCommand,
} from "@aws-sdk/client-scheduler";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { EventBridgeScheduler, tickInput } from "../../functions/adapters/scheduler.ts";

// There is no EventBridge Scheduler emulator: request shapes are asserted against a mocked client.
const client = new SchedulerClient({
  region: "us-east-1",
  credentials: { accessKeyId: "x", secretAccessKey: "x" },
});
const mock = mockClient(client);

const options = {
  groupName: "watchkeeper",
  ticksQueueArn: "arn:aws:sqs:us-east-1:123456789012:ticks.fifo",
  roleArn: "arn:aws:iam::123456789012:role/scheduler",
  deadLetterQueueArn: "arn:aws:sqs:us-east-1:123456789012:scheduler-dlq",
  client,
};
const scheduler = new EventBridgeScheduler(options);
const definition = {
  monitorId: "compass-po",
  expression: "cron(5 8 * * ? *)",
  timezone: "America/Chicago",
  enabled: true,
};

const notFound = () =>
  new ResourceNotFoundException({
    message: "Schedule compass-po does not exist.",
    Message: "Schedule compass-po does not exist.",
    $metadata: {},
  });
const conflict = () =>
  new ConflictException({
    message: "Schedule compass-po already exists.",
    Message: "Schedule compass-po already exists.",
    $metadata: {},
  });

beforeEach(() => mock.reset());

describe("EventBridgeScheduler", () => {
  it("sends the whole schedule: FIFO target, tick input, retry policy, DLQ, timezone, no flexible window", async () => {
    mock.on(UpdateScheduleCommand).resolves({});
    await scheduler.upsert(definition);
    expect(mock.commandCalls(UpdateScheduleCommand)[0]?.args[0].input).toEqual({
      Name: "compass-po",
      GroupName: "watchkeeper",
      Description: "Watchkeeper ticks for monitor compass-po",
      ScheduleExpression: "cron(5 8 * * ? *)",
      ScheduleExpressionTimezone: "America/Chicago",
      State: "ENABLED",
      FlexibleTimeWindow: { Mode: "OFF" },
      ActionAfterCompletion: "NONE",
      Target: {
        Arn: options.ticksQueueArn,
        RoleArn: options.roleArn,
        Input: '{"monitorId":"compass-po","scheduledTime":"<aws.scheduler.scheduled-time>"}',
        SqsParameters: { MessageGroupId: "compass-po" },
        RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 185 },
        DeadLetterConfig: { Arn: options.deadLetterQueueArn },
      },
    });
    expect(mock.commandCalls(CreateScheduleCommand)).toHaveLength(0);
  });

  it("disables the schedule of an inactive monitor", async () => {
    mock.on(UpdateScheduleCommand).resolves({});
    await scheduler.upsert({ ...definition, enabled: false });
    expect(mock.commandCalls(UpdateScheduleCommand)[0]?.args[0].input.State).toBe("DISABLED");
  });

  it("creates the schedule when there is none to update", async () => {
    mock
      .on(UpdateScheduleCommand)
      .rejects(notFound())
      .on(CreateScheduleCommand)
      .resolves({ ScheduleArn: "arn" });
    await scheduler.upsert(definition);
    const created = mock.commandCalls(CreateScheduleCommand)[0]?.args[0].input;
    expect(created).toMatchObject({ Name: "compass-po", GroupName: "watchkeeper", State: "ENABLED" });
  });

  it("updates after all when a concurrent writer created the schedule first", async () => {
    mock
      .on(UpdateScheduleCommand)
      .rejectsOnce(notFound())
      .resolves({})
      .on(CreateScheduleCommand)
      .rejects(conflict());
    await scheduler.upsert(definition);
    expect(mock.commandCalls(UpdateScheduleCommand)).toHaveLength(2);
  });

  it("lets other errors (throttling) propagate so that the stream record is retried", async () => {
    mock
      .on(UpdateScheduleCommand)
      .rejects(
        new ThrottlingException({ message: "Rate exceeded", Message: "Rate exceeded", $metadata: {} }),
      );
    await expect(scheduler.upsert(definition)).rejects.toThrow("Rate exceeded");
    expect(mock.commandCalls(CreateScheduleCommand)).toHaveLength(0);
  });

  it("escapes monitor ids in the tick input", () => {
    expect(JSON.parse(tickInput('we"ird\\id'))).toEqual({
      monitorId: 'we"ird\\id',
      scheduledTime: "<aws.scheduler.scheduled-time>",
    });
  });

  it("deletes in the group and treats a missing schedule as deleted", async () => {
    mock.on(DeleteScheduleCommand).rejects(notFound());
    await expect(scheduler.remove("gone")).resolves.toBeUndefined();
    expect(mock.commandCalls(DeleteScheduleCommand)[0]?.args[0].input).toEqual({
      Name: "gone",
      GroupName: "watchkeeper",
    });
  });

  it("propagates other delete errors", async () => {
    mock
      .on(DeleteScheduleCommand)
      .rejects(new ThrottlingException({ message: "slow down", Message: "slow down", $metadata: {} }));
    await expect(scheduler.remove("x")).rejects.toThrow("slow down");
  });

  it("lists every page of the group", async () => {
    mock
      .on(ListSchedulesCommand, { GroupName: "watchkeeper" })
      .resolvesOnce({ Schedules: [{ Name: "b" }, { Name: "a" }], NextToken: "page-2" })
      .resolvesOnce({ Schedules: [{ Name: "c" }] });
    expect(await scheduler.list()).toEqual(["a", "b", "c"]);
    expect(mock.commandCalls(ListSchedulesCommand)[1]?.args[0].input).toMatchObject({ NextToken: "page-2" });
  });
});

describe("EventBridgeScheduler.describe", () => {
  beforeEach(() => mock.reset());

  it("reads back expression, timezone and state, or nothing when the schedule does not exist", async () => {
    mock.on(GetScheduleCommand, { Name: "compass-po", GroupName: "watchkeeper" }).resolves({
      ScheduleExpression: "rate(5 minutes)",
      ScheduleExpressionTimezone: "Asia/Kolkata",
      State: "DISABLED",
    });
    expect(await scheduler.describe("compass-po")).toEqual({
      monitorId: "compass-po",
      expression: "rate(5 minutes)",
      timezone: "Asia/Kolkata",
      enabled: false,
    });
    mock.on(GetScheduleCommand, { Name: "gone" }).rejects(notFound());
    expect(await scheduler.describe("gone")).toBeUndefined();
  });
});
