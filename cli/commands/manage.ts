import type { Command } from "commander";
import { sendManualTick } from "#adapters/manual-tick.ts";
import { SCHEDULE_RECORD } from "#core/buckets.ts";
import { DIRECTORY_RECORD } from "#core/directory.ts";
import {
  type ConfigProblem,
  formatProblems,
  isReservedId,
  parseConfigLeniently,
  RESERVED_ID_PREFIX,
} from "#core/schemas.ts";
import { checks } from "#monitors/index.ts";
import {
  applyChanges,
  type ConfigChanges,
  isPlainObject,
  parseChanges,
  parseParams,
  recipientDomainsOf,
  splitList,
  validateConfigItem,
} from "../config-input.ts";
import type { CommandContext, Runner } from "../context.ts";
import { CliError, InvalidConfigError, UnknownMonitorError } from "../errors.ts";
import { readDataFile } from "../files.ts";
import { formatSpan, parseDuration, plural } from "../format.ts";
import { ConcurrentChangeError, type Item, withoutKeys } from "../monitors-table.ts";
import { scheduleProblem } from "../schedule-status.ts";

/** Commands that change monitors: add, edit, pause, resume, run, reset, remove. */

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerManageCommands(program: Command, run: Runner): void {
  program
    .command("add")
    .description("Create a monitor; refuses invalid attributes and never overwrites an existing monitor")
    .argument("[id]", "monitor id (A-Z a-z 0-9 . _ -, at most 64); may come from --file instead")
    .option("--file <path>", "read the config item from a JSON or YAML file")
    .option("--name <name>", "human-readable name, used in email subjects")
    .option(
      "--check <check>",
      `registered check: ${[...checks.keys()].join(", ")} (\`watchkeeper checks\` lists their params)`,
    )
    .option(
      "--schedule <expression>",
      'EventBridge Scheduler expression, e.g. "rate(5 minutes)" or "cron(0 8 * * ? *)"',
    )
    .option("--timezone <zone>", "IANA timezone the cron expression is evaluated in")
    .option("--notify <emails>", "comma-separated recipients, e.g. a@example.org,b@example.org")
    .option(
      "--param <key=value>",
      "check parameter (repeatable); JSON values such as 200 or true are typed",
      collect,
    )
    .option(
      "--set <attr=value>",
      "any other config attribute (repeatable), e.g. requiredConsecutiveOks=3",
      collect,
    )
    .option("--paused", "create it inactive (isActive=false)")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        '  watchkeeper add api-health --name "API health" --check http --schedule "rate(1 minute)" \\',
        "    --param url=https://api.example.org/health --param expectedStatus=200 --notify oncall@example.org",
        "  watchkeeper add --file monitors/api-health.yaml",
      ].join("\n"),
    )
    .action((id: string | undefined, _options, command: Command) =>
      run(command, (context) => add(context, id)),
    );

  program
    .command("edit")
    .description("Change attributes of a monitor, validated like add; other attributes are left as they are")
    .argument("<id>", "monitor id")
    .option(
      "--set <attr=value>",
      "set an attribute (repeatable); params.<key>=value sets one check parameter",
      collect,
    )
    .option(
      "--unset <attr>",
      "remove an attribute so its default applies (repeatable); also params.<key>",
      collect,
    )
    .addHelpText(
      "after",
      [
        "",
        "Values are typed by attribute: numbers, true/false, comma-separated or JSON lists, JSON objects for params.",
        "Examples:",
        '  watchkeeper edit api-health --set schedule="rate(2 minutes)" --set requiredConsecutiveOks=3',
        "  watchkeeper edit api-health --set peopleToNotify=a@example.org,b@example.org",
        "  watchkeeper edit api-health --set params.maxLatencyMs=1500 --unset params.bodyIncludes",
      ].join("\n"),
    )
    .action((id: string, _options, command: Command) => run(command, (context) => edit(context, id)));

  program
    .command("pause")
    .description("Set isActive=false: schedule disabled, no checks, no mail")
    .argument("<id>", "monitor id")
    .action((id: string, _options, command: Command) =>
      run(command, (context) => setActive(context, id, false)),
    );

  program
    .command("resume")
    .description("Set isActive=true: the schedule runs again")
    .argument("<id>", "monitor id")
    .action((id: string, _options, command: Command) =>
      run(command, (context) => setActive(context, id, true)),
    );

  program
    .command("run")
    .description('Force a recheck now: sends a tick with reason "manual" to the ticks queue')
    .argument("<id>", "monitor id")
    .option("--wait", "wait for the orchestrator to apply the tick and print the result")
    .option("--timeout <duration>", "how long --wait waits", "60s")
    .action((id: string, _options, command: Command) => run(command, (context) => forceRun(context, id)));

  program
    .command("reset")
    .description("Delete the state item: the monitor starts again from ok, its incident forgotten")
    .argument("<id>", "monitor id")
    .option("-y, --yes", "do not ask for confirmation")
    .action((id: string, _options, command: Command) => run(command, (context) => reset(context, id)));

  program
    .command("remove")
    .description(
      "Delete the monitor: its config, state and history (schedule-sync then deletes its schedule)",
    )
    .argument("<id>", "monitor id")
    .option("-y, --yes", "do not ask for confirmation")
    .action((id: string, _options, command: Command) => run(command, (context) => remove(context, id)));
}

/** The config item `add` would write: file first, flags over it. */
export async function configFromAddOptions(
  positionalId: string | undefined,
  options: Record<string, unknown>,
  cwd: string,
  defaults: { allowedRecipientDomains?: readonly string[] } = {},
): Promise<{ monitorId: string; attributes: Item; problems: ConfigProblem[] }> {
  let base: Item = {};
  if (typeof options.file === "string") {
    const data = await readDataFile(options.file, cwd);
    if (!isPlainObject(data)) {
      throw new CliError(
        `${options.file} must hold one monitor (a map); use \`watchkeeper import\` for a list`,
      );
    }
    base = data;
  }
  const fileId = typeof base.monitorId === "string" ? base.monitorId : undefined;
  if (positionalId && fileId && positionalId !== fileId) {
    throw new CliError(`the id ${positionalId} differs from monitorId ${fileId} in ${options.file}`, 2);
  }
  const monitorId = positionalId ?? fileId;
  if (!monitorId)
    throw new CliError("a monitor id is required: `watchkeeper add <id> ...` or monitorId in --file", 2);

  const attributes: Item = withoutKeys(base);
  const problems: ConfigProblem[] = [];
  for (const [flag, attribute] of [
    ["name", "name"],
    ["check", "check"],
    ["schedule", "schedule"],
    ["timezone", "timezone"],
  ] as const) {
    if (typeof options[flag] === "string") attributes[attribute] = options[flag];
  }
  if (typeof options.notify === "string") attributes.peopleToNotify = splitList(options.notify);
  if (options.paused === true) attributes.isActive = false;
  const params = parseParams((options.param as string[] | undefined) ?? []);
  problems.push(...params.problems);
  if (Object.keys(params.params).length > 0) {
    attributes.params = { ...(isPlainObject(attributes.params) ? attributes.params : {}), ...params.params };
  }
  const changes = parseChanges((options.set as string[] | undefined) ?? []);
  problems.push(...changes.problems);
  const merged = applyChanges(attributes, changes);
  problems.push(...validateConfigItem(monitorId, merged, defaults));
  return { monitorId, attributes: merged, problems };
}

async function add(context: CommandContext, positionalId: string | undefined): Promise<void> {
  const { out, options, io } = context;
  const { monitorId, attributes, problems } = await configFromAddOptions(
    positionalId,
    options,
    io.cwd,
    recipientDomainsOf(options, io.env),
  );
  if (problems.length > 0) throw new InvalidConfigError(monitorId, problems);
  const table = await context.table();
  if (!(await table.createConfig(monitorId, attributes))) {
    throw new CliError(
      `monitor ${monitorId} already exists: change it with \`watchkeeper edit ${monitorId} --set attr=value\` (or remove it first)`,
    );
  }
  const { config } = parseConfigLeniently(monitorId, attributes);
  if (out.json) {
    out.data({ created: monitorId, config });
    return;
  }
  out.line(
    `Created ${out.color.bold(monitorId)}: ${config.check}, ${config.schedule} (${config.timezone}), ${plural(config.peopleToNotify.length, "recipient")}${config.isActive ? "" : ", paused"}.`,
  );
  out.line(`Its schedule is created from the table stream; \`watchkeeper run ${monitorId}\` checks it now.`);
}

/** Top-level attribute a problem or change is about (`peopleToNotify[2]` -> `peopleToNotify`). */
const rootAttribute = (attribute: string) => attribute.split(/[.[]/)[0] ?? attribute;

function touchedAttributes(changes: ConfigChanges): Set<string> {
  const touched = new Set([...Object.keys(changes.set), ...changes.unset]);
  if (Object.keys(changes.params).length > 0) touched.add("params");
  return touched;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const show = (value: unknown) =>
  value === undefined ? "(default)" : typeof value === "string" ? value : JSON.stringify(value);

async function edit(context: CommandContext, monitorId: string): Promise<void> {
  const { out, options } = context;
  const changes = parseChanges(
    (options.set as string[] | undefined) ?? [],
    (options.unset as string[] | undefined) ?? [],
  );
  const touched = touchedAttributes(changes);
  if (touched.size === 0 && changes.problems.length === 0) {
    throw new CliError("nothing to change: pass --set attr=value or --unset attr", 2);
  }
  const table = await context.table();
  const current = withoutKeys(await table.requireConfig(monitorId));
  const next = applyChanges(current, changes);
  const domains = recipientDomainsOf(options, context.io.env);
  const problems = validateConfigItem(monitorId, next, domains);
  // An old problem of an attribute this edit leaves alone must not prevent a fix; whatever the
  // edit touches, or causes (another check makes the stored params wrong), blocks it.
  const problemKey = (problem: ConfigProblem) => `${problem.attribute}\n${problem.message}`;
  const existing = new Set(validateConfigItem(monitorId, current, domains).map(problemKey));
  const blocking = [
    ...changes.problems,
    ...problems.filter(
      (problem) => touched.has(rootAttribute(problem.attribute)) || !existing.has(problemKey(problem)),
    ),
  ];
  if (blocking.length > 0) throw new InvalidConfigError(monitorId, blocking);
  for (const problem of problems.filter((problem) => !blocking.includes(problem))) {
    out.note(`${monitorId}: ${formatProblems([problem])} (unchanged by this edit)`);
  }
  const changed = [...touched].filter((attribute) => !same(current[attribute], next[attribute]));
  if (changed.length === 0) {
    if (out.json) out.data({ updated: monitorId, changes: {} });
    else out.line(`${monitorId} already has these values: nothing written.`);
    return;
  }
  const set = Object.fromEntries(
    changed.filter((key) => next[key] !== undefined).map((key) => [key, next[key]]),
  );
  const removed = changed.filter((key) => next[key] === undefined);
  // `--set params.k=v` merges into the params read above: written only if they are still those,
  // so that a concurrent edit of another parameter is not overwritten.
  const unchanged = Object.keys(changes.params).length > 0 ? { params: current.params } : {};
  let before: Item;
  try {
    before = await table.updateConfig(monitorId, set, removed, unchanged);
  } catch (error) {
    if (error instanceof ConcurrentChangeError)
      throw new CliError(`${error.message} (someone edited it while this ran): run the edit again`);
    throw error;
  }
  const diff = Object.fromEntries(
    changed.map((key) => [key, { from: before[key] ?? null, to: next[key] ?? null }]),
  );
  if (out.json) {
    out.data({ updated: monitorId, changes: diff });
    return;
  }
  out.line(`Updated ${out.color.bold(monitorId)}:`);
  for (const key of changed) {
    out.line(`  ${key}: ${out.color.dim(show(before[key]))} -> ${show(next[key])}`);
  }
}

async function setActive(context: CommandContext, monitorId: string, isActive: boolean): Promise<void> {
  const { out } = context;
  const table = await context.table();
  const before = await table.updateConfig(monitorId, { isActive });
  const wasActive = before.isActive !== false;
  const verb = isActive ? "resumed" : "paused";
  if (isActive) {
    // Resumed is not running: a schedule that cannot be scheduled leaves the monitor idle.
    const raw = { ...withoutKeys(before), isActive: true };
    const { config, problems } = parseConfigLeniently(monitorId, raw);
    const problem = scheduleProblem({ raw, config, problems, state: undefined }, context.now);
    if (problem)
      throw new CliError(
        `${monitorId} is ${wasActive ? "active" : "resumed"}, but it cannot be scheduled: ${problem}. Nothing runs until that is fixed (\`watchkeeper edit ${monitorId} --set schedule=...\`).`,
        1,
      );
  }
  if (out.json) {
    out.data({ monitorId, isActive, changed: wasActive !== isActive });
    return;
  }
  if (wasActive === isActive) out.line(`${monitorId} was already ${verb}.`);
  else if (isActive) out.line(`Resumed ${out.color.bold(monitorId)}: its schedule is enabled again.`);
  else
    out.line(
      `Paused ${out.color.bold(monitorId)}: its schedule is disabled; no checks, no mail until \`watchkeeper resume ${monitorId}\`.`,
    );
}

async function forceRun(context: CommandContext, monitorId: string): Promise<void> {
  const { out, options, now, target } = context;
  const timeoutMs = parseDuration(String(options.timeout));
  const table = await context.table();
  const { config } = parseConfigLeniently(monitorId, await table.requireConfig(monitorId));
  if (!config.isActive) {
    throw new CliError(
      `${monitorId} is paused and the orchestrator ignores its ticks: \`watchkeeper resume ${monitorId}\` first`,
    );
  }
  const { tick, messageId } = await sendManualTick(target.sqs(), await target.queueUrl(), monitorId, now);
  if (!options.wait) {
    if (out.json) out.data({ queued: monitorId, scheduledTime: tick.scheduledTime, messageId });
    else
      out.line(
        `Queued a manual run of ${out.color.bold(monitorId)} (tick ${tick.scheduledTime}, message ${messageId}).`,
      );
    return;
  }
  const state = await waitForTick(context, monitorId, tick.scheduledTime, timeoutMs);
  if (out.json) {
    out.data({ queued: monitorId, scheduledTime: tick.scheduledTime, messageId, state });
    return;
  }
  const { color } = out;
  const applied = Date.parse(state.lastManualTickTime ?? "") === Date.parse(tick.scheduledTime);
  out.line(
    applied
      ? `${monitorId}: ${state.lastResultOk ? color.green("OK") : color.red("FAIL")} ${state.lastResultMessage ?? ""}`
      : `${monitorId}: a later manual run (${state.lastManualTickTime}) was applied first`,
  );
  out.line(
    `state ${state.state}${state.lastNotificationDt && state.lastNotificationDt >= tick.scheduledTime ? `, ${state.lastNotificationType} notification sent` : ""}`,
  );
}

/**
 * Polls the state item until the orchestrator has applied this manual tick (or a later one). A
 * manual run keeps its own clock, `lastManualTickTime`: it never moves `lastTickTime`, which the
 * scheduled ticks own.
 */
async function waitForTick(
  context: CommandContext,
  monitorId: string,
  scheduledTime: string,
  timeoutMs: number,
) {
  const table = await context.table();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { state } = await table.load(monitorId);
    if (state?.lastManualTickTime && Date.parse(state.lastManualTickTime) >= Date.parse(scheduledTime))
      return state;
    if (Date.now() >= deadline) {
      throw new CliError(
        `the tick was queued but not applied within ${formatSpan(timeoutMs)}: is the orchestrator consuming the queue? (it stays queued)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function confirmOrRefuse(context: CommandContext, question: string): Promise<void> {
  if (context.options.yes === true) return;
  if (!(await context.io.confirm(question))) throw new CliError("cancelled: nothing was changed");
}

async function reset(context: CommandContext, monitorId: string): Promise<void> {
  const { out } = context;
  const table = await context.table();
  await table.requireConfig(monitorId);
  await confirmOrRefuse(
    context,
    `Reset ${monitorId}: delete its state (alert status, counters, pending mail)?`,
  );
  const deleted = await table.deleteState(monitorId);
  if (out.json) out.data({ reset: monitorId, deleted });
  else if (deleted)
    out.line(`Reset ${out.color.bold(monitorId)}: state deleted; its next run starts from ok.`);
  else out.line(`${monitorId} has no state item: nothing to reset.`);
}

async function remove(context: CommandContext, monitorId: string): Promise<void> {
  const { out } = context;
  // Deleting a partition wholesale: never one of Watchkeeper's own (`__buckets`, `__channels`,
  // `__directory`), whose loss would stop every monitor's ticks, channels or the overview.
  if (isReservedId(monitorId)) {
    throw new CliError(
      `"${monitorId}" is not a monitor: ids starting with "${RESERVED_ID_PREFIX}" hold Watchkeeper's own items (remove channels with \`watchkeeper channel remove\`)`,
    );
  }
  const table = await context.table();
  const records = await table.recordsOf(monitorId);
  if (records.length === 0) throw new UnknownMonitorError(monitorId);
  const history = records.filter(
    (record) =>
      record !== "config" && record !== "state" && record !== SCHEDULE_RECORD && record !== DIRECTORY_RECORD,
  ).length;
  await confirmOrRefuse(
    context,
    `Remove ${monitorId}: delete its config, state and ${plural(history, "history item")}?`,
  );
  const progress = out.progress(`removing ${monitorId}`, records.length);
  await table.deleteRecords(monitorId, records, (count) => progress.tick(count));
  progress.finish();
  if (out.json) out.data({ removed: monitorId, items: records.length });
  else
    out.line(
      `Removed ${out.color.bold(monitorId)}: ${plural(records.length, "item")} deleted (config, state, ${plural(history, "history item")}); schedule-sync deletes its schedule.`,
    );
}
