import type { CompositeAlarm, DescribeAlarmsCommandInput, MetricAlarm } from "@aws-sdk/client-cloudwatch";
import * as z from "zod/mini";
import { abortedError } from "./support/abort.ts";
import { REGION_PATTERN } from "./support/clients.ts";
import {
  type CloudWatchClientFor,
  defaultCloudWatchClientFor,
  isAccessDenied,
  loadCloudWatchSdk,
} from "./support/cloudwatch.ts";
import { errorText, plural, quote } from "./support/format.ts";
import { must, parseParams } from "./support/params.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `cloudwatch-alarm`: "is this alarm (or any alarm whose name starts with a prefix) in ALARM?".
 * One DescribeAlarms, paginated and bounded. Fails when a matching alarm is in ALARM (and, when
 * asked, in INSUFFICIENT_DATA), and when no alarm matches at all: a renamed or deleted alarm must
 * not turn into a monitor that is silently always OK.
 */

export const CLOUDWATCH_ALARM_CHECK = "cloudwatch-alarm";

/** Alarms asked per DescribeAlarms page (the API's maximum). */
export const ALARMS_PER_PAGE = 100;
/** Pages read at most: 1,000 alarms. A prefix matching more is a failure asking to narrow it. */
export const MAX_ALARM_PAGES = 10;
/** Failing alarms named in a message; the rest are counted. */
export const LISTED_ALARMS = 5;
/** Characters of an alarm's state reason kept in a message. */
export const STATE_REASON_CHARS = 160;

// CloudWatch alarm names: 1 to 255 characters, any but control characters.
const AlarmNameSchema = (what: string) =>
  z.string({ error: must(`must be ${what}`) }).check(
    z.minLength(1, `must be ${what}`),
    z.maxLength(255, "must be at most 255 characters"),
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
    z.regex(/^[^\u0000-\u001f\u007f]*$/, "must not hold control characters"),
  );

export const CloudWatchAlarmParamsSchema = z
  .strictObject({
    alarmName: z.optional(AlarmNameSchema("an alarm name")).register(z.globalRegistry, {
      description: "The alarm's exact name. Give this or params.alarmNamePrefix, not both.",
      defaultText: "params.alarmNamePrefix is used",
    }),
    alarmNamePrefix: z.optional(AlarmNameSchema("an alarm name prefix")).register(z.globalRegistry, {
      description: "Every alarm whose name starts with this. Give this or params.alarmName, not both.",
      defaultText: "params.alarmName is used",
    }),
    // CloudWatch only returns composite alarms to a role whose cloudwatch:DescribeAlarms is granted
    // on "*": hence the stack setting the description names.
    includeComposite: z
      ._default(z.boolean({ error: must("must be true or false") }), false)
      .register(z.globalRegistry, {
        description:
          "Composite alarms match too (needs the stack setting checkAlarmReads, which grants cloudwatch:DescribeAlarms on every alarm).",
      }),
    insufficientDataIsFailure: z
      ._default(z.boolean({ error: must("must be true or false") }), false)
      .register(z.globalRegistry, { description: "An alarm in INSUFFICIENT_DATA fails the check too." }),
    region: z
      .optional(
        z
          .string({ error: must("must be an AWS region such as us-east-1") })
          .check(z.regex(REGION_PATTERN, "must be an AWS region such as us-east-1")),
      )
      .register(z.globalRegistry, {
        description: "Region of the alarms.",
        defaultText: "the SDK's region (AWS_REGION)",
      }),
  })
  .check(
    z.superRefine((params, ctx) => {
      if (params.alarmName !== undefined && params.alarmNamePrefix !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["alarmNamePrefix"],
          message: "cannot be combined with params.alarmName: give exactly one of them",
        });
      } else if (params.alarmName === undefined && params.alarmNamePrefix === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["alarmName"],
          message: "is required (or params.alarmNamePrefix: exactly one of them)",
        });
      }
    }),
  );
export type CloudWatchAlarmParams = z.infer<typeof CloudWatchAlarmParamsSchema>;

type State = "OK" | "ALARM" | "INSUFFICIENT_DATA";

interface FoundAlarm {
  name: string;
  state: State | string;
  reason: string;
  composite: boolean;
}

function found(alarm: MetricAlarm | CompositeAlarm, composite: boolean): FoundAlarm {
  return {
    name: alarm.AlarmName ?? "(unnamed)",
    state: alarm.StateValue ?? "unknown",
    reason: alarm.StateReason ?? "",
    composite,
  };
}

export interface CloudWatchAlarmOptions {
  /** @default one cached CloudWatchClient per region, from checkClientConfig */
  clientFor?: CloudWatchClientFor;
}

export function createCloudWatchAlarmCheck(options: CloudWatchAlarmOptions = {}): CheckDefinition {
  const clientFor = options.clientFor ?? defaultCloudWatchClientFor;

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(CLOUDWATCH_ALARM_CHECK, CloudWatchAlarmParamsSchema, ctx.params);
    const { alarmName, alarmNamePrefix, includeComposite, insufficientDataIsFailure } = params;
    const searched =
      alarmName !== undefined
        ? `alarm ${quote(alarmName, 255)}`
        : `alarms whose name starts with ${quote(alarmNamePrefix ?? "", 255)}`;
    const { DescribeAlarmsCommand } = await loadCloudWatchSdk();
    const client = await clientFor(params.region);
    const region = params.region ?? (await client.config.region().catch(() => undefined));
    const where = region ? ` in ${region}` : "";

    const alarms: FoundAlarm[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    try {
      do {
        const input: DescribeAlarmsCommandInput = {
          ...(alarmName !== undefined ? { AlarmNames: [alarmName] } : { AlarmNamePrefix: alarmNamePrefix }),
          AlarmTypes: includeComposite ? ["MetricAlarm", "CompositeAlarm"] : ["MetricAlarm"],
          MaxRecords: ALARMS_PER_PAGE,
          ...(nextToken ? { NextToken: nextToken } : {}),
        };
        const page = await client.send(new DescribeAlarmsCommand(input), { abortSignal: ctx.signal });
        for (const alarm of page.MetricAlarms ?? []) alarms.push(found(alarm, false));
        for (const alarm of page.CompositeAlarms ?? []) alarms.push(found(alarm, true));
        nextToken = page.NextToken || undefined;
        pages++;
      } while (nextToken && pages < MAX_ALARM_PAGES);
    } catch (error) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal, `DescribeAlarms for ${searched}`);
      if (isAccessDenied(error)) {
        return {
          isOk: false,
          message: `not allowed to describe ${searched}${where} (cloudwatch:DescribeAlarms): list the alarm ARNs in the stack setting checkReadArns, or set checkAlarmReads for prefixes and composite alarms (${errorText(error)})`,
        };
      }
      return { isOk: false, message: `DescribeAlarms for ${searched}${where} failed: ${errorText(error)}` };
    }
    const truncated = nextToken !== undefined;
    ctx.logger.debug("cloudwatch-alarm check", { searched, alarms: alarms.length, pages, truncated });

    if (alarms.length === 0) {
      const kinds = includeComposite ? "metric or composite alarm" : "metric alarm";
      const composite = includeComposite
        ? ""
        : " (composite alarms are looked at with params.includeComposite)";
      return {
        isOk: false,
        message:
          alarmName !== undefined
            ? `no ${kinds} named ${quote(alarmName, 255)}${where}${composite}`
            : `no ${kinds} whose name starts with ${quote(alarmNamePrefix ?? "", 255)}${where}${composite}`,
      };
    }

    const failing = alarms
      .filter(
        (alarm) =>
          alarm.state === "ALARM" || (insufficientDataIsFailure && alarm.state === "INSUFFICIENT_DATA"),
      )
      .sort(
        (a, b) =>
          Number(b.state === "ALARM") - Number(a.state === "ALARM") || a.name.localeCompare(b.name, "en"),
      );
    const describe = (alarm: FoundAlarm) =>
      `${quote(alarm.name, 255)} ${alarm.state}: ${quote(alarm.reason, STATE_REASON_CHARS)}`;
    const tolerated =
      !insufficientDataIsFailure && alarms.some((alarm) => alarm.state === "INSUFFICIENT_DATA")
        ? " (INSUFFICIENT_DATA is not a failure: params.insufficientDataIsFailure is false)"
        : "";

    const [only] = alarms;
    if (alarmName !== undefined && only && alarms.length === 1) {
      const state = `alarm ${quote(only.name, 255)}${where} is ${only.state === "OK" ? "" : "in "}${only.state}`;
      return failing.length > 0
        ? { isOk: false, message: `${state}: ${quote(only.reason, STATE_REASON_CHARS)}` }
        : { isOk: true, message: `${state}${tolerated}` };
    }

    const counts = summarize(alarms);
    const scope =
      alarmName !== undefined
        ? `${plural(alarms.length, "alarm")} named ${quote(alarmName, 255)}${where}`
        : `${plural(alarms.length, "alarm")} whose name starts with ${quote(alarmNamePrefix ?? "", 255)}${where}`;
    if (failing.length > 0) {
      const listed = failing.slice(0, LISTED_ALARMS).map(describe);
      const more = failing.length > LISTED_ALARMS ? `; and ${failing.length - LISTED_ALARMS} more` : "";
      const lookedAt = truncated ? ", more were not looked at (narrow params.alarmNamePrefix)" : "";
      return {
        isOk: false,
        message: `${failing.length} of ${scope} are failing (${counts}${lookedAt}): ${listed.join("; ")}${more}`,
      };
    }
    if (truncated) {
      return {
        isOk: false,
        message: `more than ${scope}: none of the first ${alarms.length} is failing, the rest were not looked at; narrow params.alarmNamePrefix`,
      };
    }
    return { isOk: true, message: `${scope}: ${counts}${tolerated}` };
  }

  return {
    name: CLOUDWATCH_ALARM_CHECK,
    description:
      "Fails while the CloudWatch alarm params.alarmName (or any alarm starting with params.alarmNamePrefix) is in ALARM, or when none matches.",
    paramsSchema: CloudWatchAlarmParamsSchema,
    example: {
      name: "No production alarm is firing",
      params: { alarmNamePrefix: "prod-", insufficientDataIsFailure: true },
    },
    run,
  };
}

/** `1 ALARM, 3 OK`: counts per state, failing states first. */
function summarize(alarms: readonly FoundAlarm[]): string {
  const order = ["ALARM", "INSUFFICIENT_DATA", "OK"];
  const counts = new Map<string, number>();
  for (const alarm of alarms) counts.set(alarm.state, (counts.get(alarm.state) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => {
      const rank = (state: string) => (order.includes(state) ? order.indexOf(state) : order.length);
      return rank(a) - rank(b) || a.localeCompare(b, "en");
    })
    .map(([state, count]) => `${count} ${state}`)
    .join(", ");
}

export const cloudWatchAlarmCheck = createCloudWatchAlarmCheck();
