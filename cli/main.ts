import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { registerChannelCommands } from "./commands/channels.ts";
import { registerCheckCommands } from "./commands/checks.ts";
import { registerDoctorCommand } from "./commands/doctor.ts";
import { registerHistoryCommands } from "./commands/history.ts";
import { registerIncidentCommands } from "./commands/incidents.ts";
import { registerManageCommands } from "./commands/manage.ts";
import { registerMonitorCommands } from "./commands/monitors.ts";
import { registerReportCommands } from "./commands/reports.ts";
import { registerTransferCommands } from "./commands/transfer.ts";
import { createRunner } from "./context.ts";
import { CliError, describeError, type ErrorContext } from "./errors.ts";
import { type CliIo, processIo, wantsColor } from "./io.ts";
import type { CliClients } from "./target.ts";
import { terminalStream, trustedColors } from "./terminal.ts";

/**
 * `watchkeeper`: the operator CLI (issue 7). runCli is the one entry point, used by the launcher
 * (cli/watchkeeper.mjs), `npm run watchkeeper` and the tests alike; it never calls process.exit.
 */

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function buildProgram(
  io: CliIo,
  clients: CliClients,
  onTarget: (context: () => ErrorContext) => void,
): Command {
  const program = new Command()
    .name("watchkeeper")
    .description(
      "Operate Watchkeeper monitors: list, inspect, change, force runs, read history and reports; smoke-test a deployment.",
    )
    .version("0.1.0")
    .option("--local", "use the local runtime of `npm start` (reads <state-dir>/local.json)")
    .option("--state-dir <dir>", "where `npm start` wrote local.json", ".watchkeeper")
    .option(
      "--table <name>",
      "Monitors table (env WATCHKEEPER_TABLE; default: the stack's <stack>-MonitorsTable*)",
    )
    .option(
      "--queue-url <url>",
      "ticks queue for `run` (env WATCHKEEPER_QUEUE_URL; default: the stack's queue)",
    )
    .addOption(
      new Option("--stack <name>", "stack name used to find the table and queue")
        .env("WATCHKEEPER_STACK")
        .default("watchkeeper"),
    )
    .option("--region <region>", "AWS region (default: AWS_REGION or the profile's)")
    .option("--profile <name>", "AWS profile (default: AWS_PROFILE or the default chain)")
    .option(
      "--allowed-recipient-domains <list>",
      "add, edit and import refuse recipients outside these comma-separated domains: the stack's allowedRecipientDomains (env WATCHKEEPER_ALLOWED_RECIPIENT_DOMAINS)",
    )
    .option("--json", "machine-readable JSON on stdout")
    .option("--debug", "print stack traces of errors")
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(trustedColors(wantsColor(io.stderr, io.env)).red(text)),
    })
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError()
    .exitOverride()
    .addHelpText(
      "after",
      [
        "",
        "Targets: AWS by default (default credential chain and region), or --local for `npm start`.",
        "Exit codes: 0 success, 1 failure (the message says why), 2 invalid usage.",
        "",
        "Examples:",
        "  watchkeeper list --state alert",
        "  watchkeeper show api-health --local",
        "  watchkeeper history api-health --since 7d --json",
        "  watchkeeper checks http",
        '  watchkeeper ack api-health --note "on it" --for 4h',
      ].join("\n"),
    );
  const run = createRunner(io, clients, onTarget);
  registerMonitorCommands(program, run);
  registerManageCommands(program, run);
  registerHistoryCommands(program, run);
  registerIncidentCommands(program, run);
  registerReportCommands(program, run);
  registerTransferCommands(program, run);
  registerDoctorCommand(program, run);
  registerChannelCommands(program, run);
  registerCheckCommands(program, io);
  return program;
}

/** Runs one command line (without `node` and the script) and resolves to its exit code. */
export async function runCli(
  argv: readonly string[],
  io: Partial<CliIo> = {},
  clients: CliClients = {},
): Promise<number> {
  const given: CliIo = { ...processIo(), ...io };
  // Everything printed passes through one sanitizer (cli/terminal.ts): values from the table
  // cannot put escape sequences, control characters or bidi controls on the operator's terminal.
  const fullIo: CliIo = {
    ...given,
    stdout: terminalStream(given.stdout),
    stderr: terminalStream(given.stderr),
  };
  let errorContext: () => ErrorContext = () => ({});
  const program = buildProgram(fullIo, clients, (context) => {
    errorContext = context;
  });
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT_USAGE;
    }
    await program.parseAsync([...argv], { from: "user" });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed its message (or the help) already.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    const color = trustedColors(wantsColor(fullIo.stderr, fullIo.env));
    const lines = [describeError(error, errorContext()), ...(error instanceof CliError ? error.details : [])];
    for (const line of lines) fullIo.stderr.write(`${color.red("error:")} ${line}\n`);
    if (argv.includes("--debug") && error instanceof Error && error.stack)
      fullIo.stderr.write(`${error.stack}\n`);
    return error instanceof CliError ? error.exitCode : EXIT_FAILURE;
  }
}

/** Entry point of the binary. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  // The SDK's notice about its own future Node requirement would precede every command's output;
  // the project supports Node 20 today (package.json engines), as the local runtime's Lambdas do.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  // `watchkeeper list | head`: a closed pipe is the reader's choice, not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(EXIT_OK);
    throw error;
  });
  process.exitCode = await runCli(argv);
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invokedDirectly) await main();
