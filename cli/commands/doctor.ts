import type { Command } from "commander";
import { EmailAddressSchema } from "#core/schemas.ts";
import type { CommandContext, Runner } from "../context.ts";
import { type DoctorResult, type DoctorStatus, runDoctor, summarize } from "../doctor.ts";
import { CliError } from "../errors.ts";
import { plural } from "../format.ts";

/** `doctor`: the post-deploy smoke test (cli/doctor.ts). */

export function registerDoctorCommand(program: Command, run: Runner): void {
  program
    .command("doctor")
    .description(
      "Smoke-test a deployment: sender identity, SES sandbox, schedule group and heartbeat, queues, table; exits 1 on any FAIL",
    )
    .option(
      "--sender <address>",
      "the stack's senderEmail (env WATCHKEEPER_SENDER_EMAIL; --local: local.json's)",
    )
    .option(
      "--configuration-set <name>",
      "the stack's sesConfigurationSet, checked and used for the test mail (env WATCHKEEPER_SES_CONFIGURATION_SET)",
    )
    .option(
      "--retry-queue-url <url>",
      "the delivery-retry queue (env WATCHKEEPER_DELIVERY_RETRY_QUEUE_URL; default: the stack's <stack>-DeliveryRetriesQueue*)",
    )
    .option("--send-test-mail <address>", "also send one test mail from the sender to this address")
    .addHelpText(
      "after",
      [
        "",
        "Each check prints one line: PASS, WARN (works, but look), FAIL (broken: the line says how to fix",
        "it) or SKIP (the local emulators lack that API). It only reads, but for --send-test-mail.",
        "The schedule group is --stack (the stack's namePrefix). AWS permissions: ses:GetEmailIdentity,",
        "ses:GetAccount, scheduler:GetScheduleGroup, scheduler:GetSchedule, sqs:GetQueueAttributes,",
        "sqs:GetQueueUrl, dynamodb:DescribeTable (ListQueues, ListTables to discover), ses:SendEmail.",
        "",
        "Examples:",
        "  watchkeeper doctor --sender alerts@example.org",
        "  watchkeeper doctor --sender alerts@example.org --send-test-mail me@example.org",
        "  watchkeeper doctor --local --send-test-mail me@example.org",
      ].join("\n"),
    )
    .action((_options, command: Command) => run(command, doctor));
}

function stringOption(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

async function doctor(context: CommandContext): Promise<void> {
  const { out, options, io, target } = context;
  const testMailTo = stringOption(options.sendTestMail);
  if (testMailTo !== undefined && !EmailAddressSchema.safeParse(testMailTo).success) {
    throw new CliError(`--send-test-mail "${testMailTo}" is not an email address`, 2);
  }
  const local = target.local;
  const retryQueueUrl =
    stringOption(options.retryQueueUrl) ??
    (local ? local.deliveryRetryQueueUrl : stringOption(io.env.WATCHKEEPER_DELIVERY_RETRY_QUEUE_URL));
  const results = await runDoctor({
    local: local !== undefined,
    region: target.errorContext.region,
    ses: () => target.ses(),
    scheduler: local ? undefined : () => target.scheduler(),
    sqs: () => target.sqs(),
    dynamodb: target.dynamodb,
    sender:
      stringOption(options.sender) ??
      (local ? local.senderEmail : stringOption(io.env.WATCHKEEPER_SENDER_EMAIL)),
    configurationSet:
      stringOption(options.configurationSet) ?? stringOption(io.env.WATCHKEEPER_SES_CONFIGURATION_SET),
    scheduleGroup: options.stack,
    tableName: () => target.tableName(),
    ticksQueueUrl: () => target.queueUrl(),
    deliveryRetryQueueUrl: async () => {
      if (retryQueueUrl) return retryQueueUrl;
      if (local) throw new CliError("local.json names no delivery-retry queue: restart `npm start`");
      return target.findStackQueue(
        "DeliveryRetriesQueue",
        false,
        "--retry-queue-url",
        "WATCHKEEPER_DELIVERY_RETRY_QUEUE_URL",
      );
    },
    testMailTo,
    inboxUrl: local?.inboxUrl,
    stack: options.stack,
    now: context.now,
  });
  const summary = summarize(results);
  if (out.json) {
    out.data({
      ok: summary.fail === 0,
      target: {
        local: local !== undefined,
        region: target.errorContext.region ?? null,
        stack: options.stack,
      },
      summary,
      checks: results,
    });
  } else {
    printResults(context, results);
    out.line(
      `${plural(summary.pass, "passed", "passed")}, ${plural(summary.warn, "warning")}, ` +
        `${plural(summary.fail, "failed", "failed")}, ${plural(summary.skip, "skipped", "skipped")}`,
    );
  }
  if (summary.fail > 0) {
    const failed = results.filter((result) => result.status === "FAIL").map((result) => result.check);
    throw new CliError(`doctor: ${plural(failed.length, "check")} failed: ${failed.join(", ")}`);
  }
}

function printResults({ out }: CommandContext, results: readonly DoctorResult[]): void {
  const paint: Record<DoctorStatus, (text: string) => string> = {
    PASS: out.color.green,
    WARN: out.color.yellow,
    FAIL: out.color.red,
    SKIP: out.color.dim,
  };
  const width = Math.max(...results.map((result) => result.check.length));
  for (const result of results) {
    const fix = result.fix
      ? ` ${out.color.dim("->")} ${result.status === "SKIP" ? "" : "fix: "}${result.fix}`
      : "";
    out.line(
      `${paint[result.status](result.status)}  ${result.check.padEnd(width)}  ${result.message}${fix}`,
    );
  }
}
