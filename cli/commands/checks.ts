import type { Command } from "commander";
import { type CheckDefinition, checks, findCheck } from "#monitors/index.ts";
import {
  describeParams,
  EXAMPLE_RECIPIENT,
  exampleConfig,
  type ParamInfo,
  paramsJsonSchema,
} from "#monitors/support/catalog.ts";
import { parseParamValue } from "../config-input.ts";
import { CliError } from "../errors.ts";
import { plural, truncate } from "../format.ts";
import { type CliIo, Output } from "../io.ts";

/**
 * `checks [name]`: the registered checks (monitors/index.ts), their params read off each check's
 * own zod schema (monitors/support/catalog.ts) and a working example. It reads no table: the
 * registry is compiled in, so it needs neither AWS credentials nor a local runtime.
 */

export interface CheckInfo {
  name: string;
  description: string;
  params: ParamInfo[];
  /** The params schema as JSON Schema (the input side: what a config item may hold), or null. */
  paramsJsonSchema: Record<string, unknown> | null;
  /** The check's example as a config item, for `add --file` or `import`, or null. */
  exampleConfig: Record<string, unknown> | null;
  /** The same example as `watchkeeper add` arguments (after the program name), or null. */
  exampleAddArgs: string[] | null;
  /** Those arguments as one shell command line. */
  exampleAddCommand: string | null;
}

/**
 * How `--param key=value` spells a value so that `add` reads back the very same value: a string
 * that would not read as JSON stays bare (URLs, names), anything else is written as JSON.
 */
export function paramArgument(value: unknown): string {
  if (typeof value === "string" && parseParamValue(value) === value) return value;
  return JSON.stringify(value);
}

/** The example as `watchkeeper add` arguments, or undefined for a check without an example. */
export function exampleAddArgs(check: CheckDefinition): string[] | undefined {
  const config = exampleConfig(check);
  if (!config || !check.example) return undefined;
  return [
    "add",
    String(config.monitorId),
    "--name",
    check.example.name,
    "--check",
    check.name,
    "--schedule",
    String(config.schedule),
    ...Object.entries(check.example.params).flatMap(([key, value]) => [
      "--param",
      `${key}=${paramArgument(value)}`,
    ]),
    "--notify",
    EXAMPLE_RECIPIENT,
  ];
}

/** One argument for a POSIX shell: bare when safe, else single-quoted. */
export function shellQuote(argument: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(argument)) return argument;
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}

export function describeCheck(check: CheckDefinition): CheckInfo {
  const args = exampleAddArgs(check);
  return {
    name: check.name,
    description: check.description,
    params: describeParams(check),
    paramsJsonSchema: paramsJsonSchema(check) ?? null,
    exampleConfig: exampleConfig(check) ?? null,
    exampleAddArgs: args ?? null,
    exampleAddCommand: args ? ["watchkeeper", ...args].map(shellQuote).join(" ") : null,
  };
}

export function registerCheckCommands(program: Command, io: CliIo): void {
  program
    .command("checks")
    .description(
      "List the registered checks with their params (type, required, default, meaning) and an example; with a name, one check in full",
    )
    .argument("[name]", "one check, e.g. http")
    .addHelpText(
      "after",
      [
        "",
        "Reads no table: the checks are built into this version of Watchkeeper.",
        "Examples:",
        "  watchkeeper checks",
        "  watchkeeper checks http",
        "  watchkeeper checks --json",
      ].join("\n"),
    )
    .action((name: string | undefined, _options, command: Command) => {
      const { json } = command.optsWithGlobals<{ json?: boolean }>();
      const out = new Output(io, json === true);
      if (name === undefined) listChecks(out);
      else showCheck(out, name);
    });
}

function requireCheck(name: string): CheckDefinition {
  const check = findCheck(name);
  if (!check) {
    throw new CliError(`unknown check ${JSON.stringify(name)} (known: ${[...checks.keys()].join(", ")})`, 2);
  }
  return check;
}

/** "required", else the schema's default value, else what leaving the param out means. */
function defaultCell(param: ParamInfo): string {
  if (param.required) return "required";
  if (param.hasDefault) return JSON.stringify(param.default);
  return param.defaultText ?? "-";
}

function listChecks(out: Output): void {
  const infos = [...checks.values()].map(describeCheck);
  if (out.json) {
    out.data(infos);
    return;
  }
  const { color } = out;
  for (const info of infos) {
    out.line(`${color.bold(info.name)}: ${info.description}`);
    if (info.params.length === 0) out.line(color.dim("  no documented params"));
    else
      out.table(
        ["PARAM", "TYPE", "DEFAULT", "DESCRIPTION"],
        info.params.map((param) => [
          param.name,
          truncate(param.type, 32),
          truncate(defaultCell(param), 24),
          truncate(param.description, 56),
        ]),
      );
    if (info.exampleAddCommand) out.line(`${color.dim("example:")} ${info.exampleAddCommand}`);
    out.line();
  }
  out.line(`${plural(infos.length, "check")}. \`watchkeeper checks <name>\` shows one in full.`);
}

function showCheck(out: Output, name: string): void {
  const info = describeCheck(requireCheck(name));
  if (out.json) {
    out.data(info);
    return;
  }
  const { color } = out;
  out.line(color.bold(info.name));
  out.line(`  ${info.description}`);
  out.line();
  out.heading("Params");
  if (info.params.length === 0) out.line(color.dim("  none documented"));
  for (const param of info.params) {
    const shown = defaultCell(param);
    const facts = [param.type, param.required ? "required" : `optional, default ${shown}`];
    out.line(`  ${color.bold(param.name)}  ${color.dim(`(${facts.join(", ")})`)}`);
    if (param.description) out.line(`    ${param.description}`);
  }
  out.line(
    color.dim(
      '  Any value may be a secret reference, {"secretRef": "<Secrets Manager or SSM ARN>"}: see docs/checks.md#secrets.',
    ),
  );
  if (info.exampleConfig) {
    out.line();
    out.heading(
      "Example config item (for `watchkeeper add --file <file>.json`, or as an entry of an `import` list)",
    );
    out.line(JSON.stringify(info.exampleConfig, null, 2));
    out.line();
    out.heading("The same with flags");
    out.line(`  ${info.exampleAddCommand}`);
  }
}
