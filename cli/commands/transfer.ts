import type { Command } from "commander";
import { STATE_RECORD } from "#core/schemas.ts";
import { isPlainObject, recipientDomainsOf, validateConfigItem } from "../config-input.ts";
import type { CommandContext, Runner } from "../context.ts";
import { CliError, UnknownMonitorError } from "../errors.ts";
import { readDataFile } from "../files.ts";
import { scanFleet } from "../fleet.ts";
import { parseSince, plural } from "../format.ts";
import { type Item, type MonitorsTable, withoutKeys } from "../monitors-table.ts";

/** `export` (backup, audit, dashboards) and `import` (monitors as code, kept in git). */

export function registerTransferCommands(program: Command, run: Runner): void {
  program
    .command("export")
    .description("Print monitors as JSON: config and state, and their history with --history (always JSON)")
    .argument("[id]", "one monitor; all monitors (a table scan) when absent")
    .option("--history", "include run and notification history (one Query per monitor)")
    .option(
      "--since <when>",
      "with --history: only history after this (a duration such as 7d, or an ISO time)",
    )
    .action((id: string | undefined, _options, command: Command) =>
      run(command, (context) => exportMonitors(context, id)),
    );

  program
    .command("import")
    .description(
      "Create or replace config items from a JSON or YAML list of monitors; validates all first and writes nothing if any is invalid",
    )
    .argument("<file>", "a list of monitors (each with monitorId), or a file written by `watchkeeper export`")
    .option("--dry-run", "validate and report what would change, write nothing")
    .addHelpText(
      "after",
      [
        "",
        "Idempotent: an unchanged monitor is not written. A changed one is replaced as a whole, so an",
        "attribute removed from the file returns to its default. State and history are never imported,",
        "and monitors missing from the file are left alone.",
      ].join("\n"),
    )
    .action((file: string, _options, command: Command) =>
      run(command, (context) => importMonitors(context, file)),
    );
}

interface ExportedMonitor {
  monitorId: string;
  config: Item;
  state: Item | null;
  history?: { runs: Item[]; notifications: Item[] };
}

const stripKeys = (item: Item | undefined): Item | null => (item ? withoutKeys(item) : null);

async function exportMonitors(context: CommandContext, monitorId: string | undefined): Promise<void> {
  const { out, options, now } = context;
  const table = await context.table();
  const since = options.since === undefined ? undefined : parseSince(String(options.since), now);
  let exported: ExportedMonitor[];
  if (monitorId) {
    const [config, state] = await Promise.all([
      table.getConfig(monitorId),
      table.getItem(monitorId, STATE_RECORD),
    ]);
    if (!config) throw new UnknownMonitorError(monitorId);
    exported = [{ monitorId, config: withoutKeys(config), state: stripKeys(state) }];
  } else {
    const { monitors } = await scanFleet(table, { project: false });
    exported = monitors.map((monitor) => ({
      monitorId: monitor.monitorId,
      config: withoutKeys(monitor.raw),
      state: stripKeys(monitor.state),
    }));
  }
  if (options.history) {
    const progress = out.progress("exporting history", exported.length);
    for (const monitor of exported) {
      const [runs, notifications] = await Promise.all([
        table.runs(monitor.monitorId, since ? { since } : {}),
        table.notifications(monitor.monitorId, since ? { since } : {}),
      ]);
      monitor.history = { runs: runs.map(withoutKeys), notifications: notifications.map(withoutKeys) };
      progress.tick();
    }
    progress.finish();
  }
  out.data({ exportedAt: now.toISOString(), table: table.tableName, monitors: exported });
}

/** One entry of an import file: a flat config item, or an `export` entry ({monitorId, config}). */
function entryConfig(entry: unknown, index: number): { monitorId: string; attributes: Item } | string {
  if (!isPlainObject(entry)) return `entry ${index + 1}: must be a map with monitorId, name, check...`;
  const monitorId = entry.monitorId;
  if (typeof monitorId !== "string" || monitorId === "") return `entry ${index + 1}: monitorId is required`;
  const source = isPlainObject(entry.config) ? entry.config : entry;
  return { monitorId, attributes: withoutKeys(source) };
}

function importEntries(data: unknown): unknown[] {
  if (Array.isArray(data)) return data;
  if (isPlainObject(data) && Array.isArray(data.monitors)) return data.monitors;
  throw new CliError("an import file holds a list of monitors (or an export's {monitors: [...]})");
}

/** Key-order-independent comparison: DynamoDB does not keep the order a file was written in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isPlainObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

type ImportAction = "created" | "updated" | "unchanged";

async function importMonitors(context: CommandContext, file: string): Promise<void> {
  const { out, options, io } = context;
  const domains = recipientDomainsOf(options, io.env);
  const entries = importEntries(await readDataFile(file, io.cwd));
  const problems: string[] = [];
  const monitors: Array<{ monitorId: string; attributes: Item }> = [];
  const seen = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const parsed = entryConfig(entry, index);
    if (typeof parsed === "string") {
      problems.push(parsed);
      continue;
    }
    if (seen.has(parsed.monitorId)) problems.push(`${parsed.monitorId}: appears more than once in ${file}`);
    seen.add(parsed.monitorId);
    for (const problem of validateConfigItem(parsed.monitorId, parsed.attributes, domains)) {
      problems.push(`${parsed.monitorId}: ${problem.attribute} ${problem.message}`);
    }
    monitors.push(parsed);
  }
  if (problems.length > 0) {
    throw new CliError(problems[0] as string, 1, [
      ...problems.slice(1),
      `nothing imported: ${plural(problems.length, "problem")} in ${file}`,
    ]);
  }
  const table = await context.table();
  const results = await applyImport(context, table, monitors, options.dryRun === true);
  const count = (action: ImportAction) => results.filter((result) => result.action === action).length;
  const summary = { created: count("created"), updated: count("updated"), unchanged: count("unchanged") };
  if (out.json) {
    out.data({ dryRun: options.dryRun === true, ...summary, monitors: results });
    return;
  }
  const { color } = out;
  const paint = { created: color.green, updated: color.yellow, unchanged: color.dim };
  if (results.length > 0)
    out.table(
      ["ID", options.dryRun ? "WOULD BE" : "RESULT"],
      results.map((result) => [result.monitorId, paint[result.action](result.action)]),
    );
  out.line();
  out.line(
    `${options.dryRun ? "Dry run: " : ""}${summary.created} created, ${summary.updated} updated, ${summary.unchanged} unchanged${options.dryRun ? " (nothing written)" : ""}.`,
  );
}

async function applyImport(
  context: CommandContext,
  table: MonitorsTable,
  monitors: ReadonlyArray<{ monitorId: string; attributes: Item }>,
  dryRun: boolean,
): Promise<Array<{ monitorId: string; action: ImportAction }>> {
  const existing = await table.getConfigs(monitors.map((monitor) => monitor.monitorId));
  const progress = context.out.progress("importing", monitors.length);
  const results: Array<{ monitorId: string; action: ImportAction }> = [];
  for (const { monitorId, attributes } of monitors) {
    const stored = existing.get(monitorId);
    let action: ImportAction;
    if (!stored) action = "created";
    else action = canonical(withoutKeys(stored)) === canonical(attributes) ? "unchanged" : "updated";
    if (!dryRun) {
      // A monitor created by someone else since the read is replaced, as an update would be.
      if (action === "created" && !(await table.createConfig(monitorId, attributes))) {
        await table.putConfig(monitorId, attributes);
        action = "updated";
      } else if (action === "updated") {
        await table.putConfig(monitorId, attributes);
      }
    }
    results.push({ monitorId, action });
    progress.tick();
  }
  progress.finish();
  return results;
}
