import type { ExecutionListItem, SFNClient } from "@aws-sdk/client-sfn";
import * as z from "zod/mini";
import { abortedError } from "./support/abort.ts";
import { checkClientConfig, lazyImport, regionalClients } from "./support/clients.ts";
import { errorText, formatDuration } from "./support/format.ts";
import { must, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `step-functions`: "did last night's job run, and succeed?". Reads the latest execution of a
 * Standard state machine (ListExecutions, newest first, one result) and wants it SUCCEEDED and
 * started within `maxAgeMinutes` of the tick. A RUNNING execution is fine while it is young
 * enough, and fails once it runs longer than `maxRunningMinutes`. FAILED, TIMED_OUT, ABORTED and
 * PENDING_REDRIVE fail; so do no execution at all, a missing state machine or a denied call (each
 * with a message naming the state machine). Messages name executions, statuses and times, never
 * their input or output, which ListExecutions does not return anyway.
 */

export const STEP_FUNCTIONS_CHECK = "step-functions";

/** `arn:aws:states:<region>:<account>:stateMachine:<name>`, optionally `:<version or alias>`. */
export const STATE_MACHINE_ARN =
  /^arn:aws[a-z-]*:states:([a-z0-9-]+):\d{12}:stateMachine:([A-Za-z0-9_-]{1,80})(?::[A-Za-z0-9_-]{1,128})?$/;

export const StepFunctionsParamsSchema = z.strictObject({
  // Express executions are not listed by ListExecutions: only a Standard state machine can be watched.
  stateMachineArn: z
    .string({ error: must("must be a state machine ARN") })
    .check(
      z.regex(
        STATE_MACHINE_ARN,
        "must be a state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)",
      ),
    )
    .register(z.globalRegistry, {
      description:
        "ARN of a Standard state machine (Express executions are not listed), or of one of its versions or aliases (called in its region).",
    }),
  maxAgeMinutes: z
    .number({ error: must("must be a positive number of minutes") })
    .check(z.positive())
    .register(z.globalRegistry, {
      description: "The latest execution must have started at most this many minutes before the tick.",
    }),
  maxRunningMinutes: z
    .optional(z.number({ error: must("must be a positive number of minutes") }).check(z.positive()))
    .register(z.globalRegistry, {
      description: "A RUNNING latest execution fails once it has run longer than this many minutes.",
      defaultText: "no limit (only maxAgeMinutes applies)",
    }),
});
export type StepFunctionsParams = z.infer<typeof StepFunctionsParamsSchema>;

type SfnSdk = typeof import("@aws-sdk/client-sfn");

export interface StepFunctionsOptions {
  /** Client for a region. @default cached `new SFNClient(checkClientConfig(region))` */
  clientFor?: (region: string) => SFNClient;
}

function ago(from: Date, now: Date): string {
  const ms = now.getTime() - from.getTime();
  return ms >= 0 ? `${formatDuration(ms)} ago` : `${formatDuration(ms)} in the future`;
}

/** The verdict on the latest execution (pure: the tests drive it with plain items). */
export function judgeExecution(
  execution: ExecutionListItem,
  params: Pick<StepFunctionsParams, "maxAgeMinutes" | "maxRunningMinutes">,
  now: Date,
  machine: string,
): CheckResult {
  const status = execution.status ?? "UNKNOWN";
  const started = execution.startDate;
  const subject = `latest execution ${JSON.stringify(execution.name ?? "?")} of state machine ${machine}`;
  if (!started) return { isOk: false, message: `${subject} is ${status} and has no start date` };
  const ageMs = now.getTime() - started.getTime();
  const startedText = `started ${ago(started, now)} (${started.toISOString()})`;
  const tooOld = ageMs > params.maxAgeMinutes * 60_000;
  const ageLimit = `limit ${params.maxAgeMinutes}m`;

  if (status === "RUNNING") {
    if (params.maxRunningMinutes !== undefined && ageMs > params.maxRunningMinutes * 60_000) {
      return {
        isOk: false,
        message: `${subject} has been RUNNING for ${formatDuration(ageMs)} (params.maxRunningMinutes ${params.maxRunningMinutes}), ${startedText}`,
      };
    }
    if (tooOld) {
      return {
        isOk: false,
        message: `${subject} is still RUNNING and ${startedText}, longer ago than params.maxAgeMinutes (${params.maxAgeMinutes}): no newer execution`,
      };
    }
    return { isOk: true, message: `${subject} is RUNNING, ${startedText}` };
  }
  const stopped = execution.stopDate
    ? `, took ${formatDuration(execution.stopDate.getTime() - started.getTime())}`
    : "";
  if (status !== "SUCCEEDED") {
    return { isOk: false, message: `${subject} ${status}: ${startedText}${stopped}` };
  }
  if (tooOld) {
    return {
      isOk: false,
      message: `${subject} SUCCEEDED but ${startedText}, longer ago than params.maxAgeMinutes (${params.maxAgeMinutes}): no newer execution`,
    };
  }
  return { isOk: true, message: `${subject} SUCCEEDED, ${startedText}${stopped} (${ageLimit})` };
}

export function createStepFunctionsCheck(options: StepFunctionsOptions = {}): CheckDefinition {
  // Loaded on the first run only: a fleet of http monitors never parses the Step Functions client.
  const loadSdk = lazyImport((): Promise<SfnSdk> => import("@aws-sdk/client-sfn"));
  let clients = options.clientFor;

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(STEP_FUNCTIONS_CHECK, StepFunctionsParamsSchema, ctx.params);
    const arn = params.stateMachineArn;
    const [, region = "", name = arn] = STATE_MACHINE_ARN.exec(arn) ?? [];
    const sfn = await loadSdk();
    clients ??= regionalClients((clientRegion) => new sfn.SFNClient(checkClientConfig(clientRegion)));

    let executions: ExecutionListItem[] | undefined;
    try {
      const output = await clients(region).send(
        // Newest first: the first item is the latest execution.
        new sfn.ListExecutionsCommand({ stateMachineArn: arn, maxResults: 1 }),
        { abortSignal: ctx.signal },
      );
      executions = output.executions;
    } catch (error) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal, `ListExecutions on state machine ${name}`);
      const errorName = (error as Error).name;
      if (errorName === "StateMachineDoesNotExist" || errorName === "ResourceNotFound") {
        return { isOk: false, message: `state machine ${arn} does not exist` };
      }
      if (errorName === "AccessDeniedException" || errorName === "AccessDenied") {
        return {
          isOk: false,
          message: `access denied to the executions of state machine ${name}: list ${arn} in the stack setting checkReadArns`,
        };
      }
      if (errorName === "StateMachineTypeNotSupported") {
        return {
          isOk: false,
          message: `state machine ${name} is an Express state machine, whose executions ListExecutions does not list: watch its CloudWatch metrics (ExecutionsFailed) instead`,
        };
      }
      return {
        isOk: false,
        message: `ListExecutions on state machine ${name} failed: ${errorText(error)}`,
      };
    }

    const latest = executions?.[0];
    ctx.logger.debug("step-functions check", { stateMachine: name, status: latest?.status });
    if (!latest) return { isOk: false, message: `state machine ${name} has no executions` };
    return judgeExecution(latest, params, ctx.now, name);
  }

  return {
    name: STEP_FUNCTIONS_CHECK,
    description:
      "OK while the latest execution of the state machine at params.stateMachineArn SUCCEEDED (or is RUNNING, for at most params.maxRunningMinutes) and started within params.maxAgeMinutes.",
    paramsSchema: StepFunctionsParamsSchema,
    example: {
      name: "Nightly export succeeded",
      schedule: "cron(0 7 * * ? *)",
      params: {
        stateMachineArn: "arn:aws:states:eu-west-1:123456789012:stateMachine:nightly-export",
        maxAgeMinutes: 1500,
        maxRunningMinutes: 90,
      },
    },
    run,
  };
}

export const stepFunctionsCheck = createStepFunctionsCheck();
