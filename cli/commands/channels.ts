import type { SNSClient } from "@aws-sdk/client-sns";
import type { Command } from "commander";
import { createAwsSecretApis } from "#adapters/aws-secret-clients.ts";
import { AwsSecretSource, type SecretApis } from "#adapters/aws-secret-source.ts";
import { createChannelSender } from "#adapters/channel-senders.ts";
import { DynamoDbChannels } from "#adapters/dynamodb-channels.ts";
import { scanFleet } from "#adapters/fleet.ts";
import {
  CHANNEL_KINDS,
  type ChannelDefinition,
  type ChannelKind,
  type ChannelMessage,
  ChannelNameSchema,
} from "#core/channels.ts";
import { parseChannelNames } from "#core/delivery-targets.ts";
import { PermanentDeliveryError } from "#core/ports.ts";
import type { CommandContext, Runner } from "../context.ts";
import { CliError } from "../errors.ts";
import { readDataFile } from "../files.ts";
import type { Target } from "../target.ts";

/**
 * `watchkeeper channel add|list|test|remove` (issue 15): notification channels, stored as items
 * under `__channels` in the Monitors table (functions/adapters/dynamodb-channels.ts). Secrets are
 * given as references (`--webhook-url-secret <ARN>`); the CLI never reads, prints or stores a value,
 * except `test`, which resolves them with the operator's credentials to send one test message.
 */

export const CHANNEL_TEST_MONITOR_ID = "watchkeeper-channel-test";

/** The message `channel test` sends: an ALERT about no real monitor, saying it is a test. */
export function channelTestMessage(now: Date): ChannelMessage {
  const at = now.toISOString();
  return {
    type: "alert",
    monitorId: CHANNEL_TEST_MONITOR_ID,
    name: "Watchkeeper channel test",
    message: "This is a test notification sent by `watchkeeper channel test`: nothing is wrong.",
    tickTime: at,
    timezone: "UTC",
    incident: at,
    durationMs: 0,
    links: {},
    subject: "[Monitor ALERT] Watchkeeper channel test",
  };
}

const secretRef = (arn: string | undefined) => (arn === undefined ? undefined : { secretRef: arn });

/** The flags each kind takes (commander's camelCase option names). */
const KIND_FLAGS: Readonly<Record<ChannelKind, readonly string[]>> = {
  slack: ["webhookUrlSecret"],
  teams: ["webhookUrlSecret"],
  pagerduty: ["routingKeySecret", "severity", "eventsUrl"],
  webhook: ["url", "urlSecret", "signingSecret"],
  sns: ["topicArn"],
};
const flagName = (option: string) =>
  `--${option.replaceAll(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`;

/**
 * A flag of another kind would be dropped without a word, and the channel written without what
 * the operator meant to give it: refuse it, saying which flags this kind takes.
 */
function refuseOtherKindsFlags(kind: string, options: Record<string, unknown>): void {
  const own = KIND_FLAGS[kind as ChannelKind];
  if (own === undefined) return; // an unknown kind: the channel schema names the kinds
  const foreign = [...new Set(Object.values(KIND_FLAGS).flat())].filter(
    (option) => !own.includes(option) && options[option] !== undefined,
  );
  if (foreign.length > 0)
    throw new CliError(
      `${foreign.map(flagName).join(", ")} ${foreign.length === 1 ? "is" : "are"} not for a ${kind} channel, which takes ${own.map(flagName).join(", ")}`,
      2,
    );
  if (options.url !== undefined && options.urlSecret !== undefined)
    throw new CliError("give the webhook's URL once: --url or --url-secret, not both", 2);
}

/** The definition `add` writes: the file first, flags over it. */
async function definitionFrom(context: CommandContext, name: string): Promise<Record<string, unknown>> {
  const options = context.options as Record<string, string | boolean | undefined>;
  let base: Record<string, unknown> = {};
  if (typeof options.file === "string") {
    const read = await readDataFile(options.file, context.io.cwd);
    if (typeof read !== "object" || read === null || Array.isArray(read)) {
      throw new CliError(`${options.file} must hold one channel object`, 2);
    }
    base = read as Record<string, unknown>;
  }
  const kind = (options.kind as string | undefined) ?? (base.kind as string | undefined);
  if (kind === undefined) throw new CliError(`--kind is required (${CHANNEL_KINDS.join(", ")})`, 2);
  refuseOtherKindsFlags(kind, options);
  const flags: Record<string, unknown> = {
    kind,
    description: options.description,
    isActive: options.inactive === true ? false : undefined,
  };
  switch (kind) {
    case "slack":
    case "teams":
      flags.webhookUrl = secretRef(options.webhookUrlSecret as string | undefined);
      break;
    case "pagerduty":
      flags.routingKey = secretRef(options.routingKeySecret as string | undefined);
      flags.severity = options.severity;
      flags.eventsUrl = options.eventsUrl;
      break;
    case "webhook":
      flags.url = options.url ?? secretRef(options.urlSecret as string | undefined);
      flags.signingSecret = secretRef(options.signingSecret as string | undefined);
      break;
    case "sns":
      flags.topicArn = options.topicArn;
      break;
  }
  const defined = Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined));
  return { ...base, ...defined, name };
}

/** Where a channel sends, as written (references, never values). */
export function channelTarget(channel: ChannelDefinition): string {
  switch (channel.kind) {
    case "slack":
    case "teams":
      return `webhookUrl ${channel.webhookUrl.secretRef}`;
    case "pagerduty":
      return `routingKey ${channel.routingKey.secretRef} · severity ${channel.severity}${channel.eventsUrl ? ` · ${channel.eventsUrl}` : ""}`;
    case "webhook":
      return `url ${typeof channel.url === "string" ? channel.url : channel.url.secretRef} · signingSecret ${channel.signingSecret.secretRef}`;
    case "sns":
      return `topic ${channel.topicArn}`;
  }
}

export function registerChannelCommands(program: Command, run: Runner): void {
  const channel = program
    .command("channel")
    .description("Notification channels: Slack, Teams, PagerDuty, signed webhooks, SNS (docs/channels/)");

  channel
    .command("add")
    .description(
      "Create or replace a channel; secrets are given as Secrets Manager or SSM ARNs, never in clear",
    )
    .argument("<name>", "channel name (a-z 0-9 . _ -), what monitors list in `channels`")
    .option("--kind <kind>", CHANNEL_KINDS.join(" | "))
    .option("--file <path>", "read the channel from a JSON or YAML file (flags override it)")
    .option("--description <text>", "what the channel is for")
    .option("--webhook-url-secret <arn>", "slack, teams: the secret holding the webhook URL")
    .option("--routing-key-secret <arn>", "pagerduty: the secret holding the integration (routing) key")
    .option("--severity <severity>", "pagerduty: critical | error | warning | info (default critical)")
    .option(
      "--events-url <url>",
      "pagerduty: https://events.eu.pagerduty.com/v2/enqueue for the EU service region",
    )
    .option("--url <url>", "webhook: the receiver's URL")
    .option("--url-secret <arn>", "webhook: the secret holding the receiver's URL (instead of --url)")
    .option("--signing-secret <arn>", "webhook: the secret holding the whsec_ signing secret")
    .option("--topic-arn <arn>", "sns: the topic (granted through the stack setting channelTopicArns)")
    .option("--inactive", "create it switched off (isActive=false)")
    .option("--replace", "replace an existing channel of that name")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  watchkeeper channel add ops-slack --kind slack \\",
        "    --webhook-url-secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:watchkeeper/slack-AbCdEf",
        "  watchkeeper channel add pager --kind pagerduty --severity error \\",
        "    --routing-key-secret arn:aws:secretsmanager:eu-west-1:123456789012:secret:watchkeeper/pd-AbCdEf",
        "  watchkeeper channel add sms --kind sns --topic-arn arn:aws:sns:eu-west-1:123456789012:oncall-sms",
      ].join("\n"),
    )
    .action((name: string, _options, command: Command) => run(command, (context) => add(context, name)));

  channel
    .command("list")
    .description("List the channels with what they send to (secret references as written, never values)")
    .action((_options, command: Command) => run(command, (context) => list(context)));

  channel
    .command("test")
    .description(
      "Send a test notification through a channel with your credentials; says delivered or why not",
    )
    .argument("<name>", "channel name")
    .action((name: string, _options, command: Command) => run(command, (context) => test(context, name)));

  channel
    .command("remove")
    .description(
      "Delete a channel; refused while monitors name it (edit them first, or --force: their notifications to it are then abandoned, with an alarm)",
    )
    .argument("<name>", "channel name")
    .option("-y, --yes", "do not ask for confirmation")
    .option("--force", "remove it even though monitors still name it")
    .option(
      "--default-channels <names>",
      "the stack setting defaultChannels (or WATCHKEEPER_DEFAULT_CHANNELS): monitors that name no channels use those",
    )
    .action((name: string, _options, command: Command) => run(command, (context) => remove(context, name)));
}

async function directory(context: CommandContext): Promise<DynamoDbChannels> {
  return new DynamoDbChannels({ tableName: await context.target.tableName(), client: context.target.doc });
}

function checkName(name: string): void {
  const parsed = ChannelNameSchema.safeParse(name);
  if (!parsed.success) throw new CliError(`channel name "${name}" ${parsed.error.issues[0]?.message}`, 2);
}

async function add(context: CommandContext, name: string): Promise<void> {
  checkName(name);
  const { out } = context;
  const channels = await directory(context);
  const definition = await definitionFrom(context, name);
  const { channels: existing } = await channels.list();
  if (existing.has(name) && context.options.replace !== true) {
    throw new CliError(`channel ${name} exists: add --replace to replace it`);
  }
  let stored: ChannelDefinition;
  try {
    stored = await channels.put(definition);
  } catch (error) {
    throw new CliError((error as Error).message, 2);
  }
  if (out.json) {
    out.data({ added: name, channel: stored });
    return;
  }
  out.line(
    `${existing.has(name) ? "Replaced" : "Added"} channel ${out.color.bold(name)} (${stored.kind}): ${channelTarget(stored)}`,
  );
  out.line(
    `Name it in a monitor's channels (\`watchkeeper edit <id> --set 'channels=["${name}"]'\`); \`watchkeeper channel test ${name}\` sends a test.`,
  );
}

async function list(context: CommandContext): Promise<void> {
  const { out } = context;
  const { channels, problems } = await (await directory(context)).list();
  const sorted = [...channels.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (out.json) {
    out.data({ channels: sorted, problems });
    return;
  }
  if (sorted.length === 0 && problems.length === 0) {
    out.line(
      "No channels. `watchkeeper channel add <name> --kind slack|teams|pagerduty|webhook|sns` adds one.",
    );
    return;
  }
  out.table(
    ["NAME", "KIND", "ACTIVE", "SENDS TO"],
    sorted.map((channel) => [
      channel.name,
      channel.kind,
      channel.isActive ? "yes" : "no",
      channelTarget(channel),
    ]),
  );
  for (const problem of problems) out.note(`channel ${problem.name} is unusable: ${problem.message}`);
}

/** Secrets Manager and SSM with the operator's configuration (the runtime's stand-in with --local). */
function secretApis(target: Target, owned: { destroy(): void }[]): SecretApis {
  return createAwsSecretApis({
    clientConfig: target.awsConfig,
    secretsManagerEndpoint: target.local?.secretsManager,
    onClient: (client) => owned.push(client),
  });
}

async function test(context: CommandContext, name: string): Promise<void> {
  const { out, target } = context;
  const { channels } = await (await directory(context)).list();
  const channel = channels.get(name);
  if (!channel) throw new CliError(`unknown channel "${name}": \`watchkeeper channel list\` shows them`);
  const owned: { destroy(): void }[] = [];
  const sender = createChannelSender({
    secrets: new AwsSecretSource(secretApis(target, owned)),
    // The local runtime's receiver is on loopback; in AWS, the orchestrator's own policy.
    allowAddresses: target.local ? ["loopback"] : [],
    sns: (region) => {
      let client: SNSClient | undefined;
      return {
        async send(command) {
          const sdk = await import("@aws-sdk/client-sns");
          if (!client) {
            client = new sdk.SNSClient({ ...target.awsConfig, region });
            owned.push(client);
          }
          return client.send(new sdk.PublishCommand(command.input));
        },
      };
    },
  });
  const message = channelTestMessage(context.now);
  const sent: string[] = [];
  try {
    sent.push((await sender.send(channel, message)).messageId);
    // A test must not leave a PagerDuty incident open: resolve what it triggered.
    if (channel.kind === "pagerduty") {
      try {
        sent.push(
          (
            await sender.send(channel, {
              ...message,
              type: "recovery",
              subject: "[Monitor RECOVERED] Watchkeeper channel test",
            })
          ).messageId,
        );
      } catch (error) {
        // The trigger went through: someone may be paged. Say so, and what to resolve.
        if (out.json) {
          out.data({
            channel: name,
            delivered: true,
            triggered: sent[0],
            resolved: false,
            reason: (error as Error).message,
          });
        }
        throw new CliError(
          `triggered a PagerDuty test incident (dedup_key ${sent[0]}), but could not resolve it: ${(error as Error).message}. Resolve it in PagerDuty.`,
        );
      }
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    const permanent = error instanceof PermanentDeliveryError;
    if (out.json) out.data({ channel: name, delivered: false, permanent, reason: (error as Error).message });
    throw new CliError(
      `not delivered: ${(error as Error).message}${permanent ? " (refused: retrying will not help; fix the channel or its secret)" : " (transient: the orchestrator would retry it)"}`,
    );
  } finally {
    for (const client of owned) client.destroy();
  }
  if (out.json) {
    out.data({ channel: name, delivered: true, messageIds: sent });
    return;
  }
  out.line(
    `Delivered a test notification to ${out.color.bold(name)} (${channel.kind}): ${sent.join(", ")}${channel.kind === "pagerduty" ? " (triggered, then resolved)" : ""}`,
  );
}

async function remove(context: CommandContext, name: string): Promise<void> {
  const { out } = context;
  if (context.options.yes !== true && !(await context.io.confirm(`Remove channel ${name}?`))) {
    throw new CliError("cancelled: nothing was changed");
  }
  const given =
    typeof context.options.defaultChannels === "string"
      ? context.options.defaultChannels
      : context.io.env.WATCHKEEPER_DEFAULT_CHANNELS;
  let defaults: string[] | undefined;
  try {
    defaults = given === undefined ? undefined : parseChannelNames(given);
  } catch (error) {
    throw new CliError(`--default-channels: ${(error as Error).message}`, 2);
  }
  if (context.options.force !== true) {
    // A monitor using a missing channel abandons every notification to it (and alarms): say who.
    // Monitors that name no channels use the stack's defaultChannels.
    const isDefault = defaults?.includes(name) === true;
    const { monitors } = await scanFleet(await context.table(), { monitors: true });
    const using = monitors
      .filter(({ config }) => config.channels?.includes(name) || (isDefault && config.channels === undefined))
      .map(({ monitorId }) => monitorId)
      .sort();
    if (using.length > 0) {
      throw new CliError(
        isDefault
          ? `channel "${name}" is one of the stack's defaultChannels and still used by ${using.length} monitor(s): ${using.join(", ")}. Take it out of defaultChannels (cdk deploy -c defaultChannels=...) and of their \`channels\` first, or pass --force`
          : `channel "${name}" is still named by ${using.length} monitor(s): ${using.join(", ")}. Take it out of their \`channels\` first (\`watchkeeper edit <id> --set channels=...\`), or pass --force`,
      );
    }
    if (defaults === undefined)
      out.note(
        `monitors that name no channels use the stack's defaultChannels, which this command cannot see: if "${name}" is one of them, pass --default-channels (or set WATCHKEEPER_DEFAULT_CHANNELS) to have them checked too`,
      );
  }
  const removed = await (await directory(context)).remove(name);
  if (!removed) throw new CliError(`unknown channel "${name}": \`watchkeeper channel list\` shows them`);
  if (out.json) out.data({ removed: name });
  else out.line(`Removed channel ${out.color.bold(name)}.`);
}
