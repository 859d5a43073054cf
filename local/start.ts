import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import pc from "picocolors";
import { type Dashboard, startDashboard } from "./dashboard.ts";
import type { DashboardHeader } from "./dashboard-view.ts";
import type { LogEntry, LogLevel } from "./log.ts";
import { type LocalRuntime, startLocalRuntime } from "./runtime.ts";
import { assertPortFree, LocalServerError } from "./servers.ts";
import { cellText } from "./terminal-text.ts";

/**
 * `npm start`: the whole pipeline on this machine, with a live view of it. A thin CLI over
 * startLocalRuntime(); see docs/local.md for the tour.
 */

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) {
    throw new InvalidArgumentError("must be a port number from 0 to 65535 (0 = any free port)");
  }
  return parsed;
}

function seconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 43_200) {
    throw new InvalidArgumentError("must be a whole number of seconds from 1 to 43200");
  }
  return parsed;
}

const program = new Command()
  .name("npm start --")
  .description(
    "Runs Watchkeeper locally: DynamoDB Local, SQS (fauxqs) and SES (aws-ses-v2-local) on 127.0.0.1,\n" +
      "the real schedule-sync and orchestrator handlers, a local EventBridge Scheduler and a mail inbox.",
  )
  .addOption(
    new Option("--dynamodb-port <port>", "DynamoDB Local port (0 = any free port)")
      .argParser(port)
      .default(8000),
  )
  .addOption(new Option("--sqs-port <port>", "SQS (fauxqs) port").argParser(port).default(4566))
  .addOption(
    new Option("--ses-port <port>", "SES (aws-ses-v2-local) port, also the inbox page")
      .argParser(port)
      .default(8005),
  )
  .addOption(
    new Option("--demo-port <port>", "port of the demo web site the seeded http monitor checks")
      .argParser(port)
      .default(8010),
  )
  .addOption(
    new Option("--web-port <port>", "port of the web dashboard (0 = any free port)")
      .argParser(port)
      .default(8020),
  )
  .option("--no-web", "do not start the web dashboard and its local user pool (cognito-local)")
  .option("--data <dir>", "keep DynamoDB Local's tables in DIR across restarts (in memory by default)")
  .option("--no-seed", "do not add the example monitors to an empty table")
  .option("--no-scheduler", "never send scheduled ticks: only ticks sent from outside are processed (tests)")
  .addOption(
    new Option(
      "--visibility-timeout <seconds>",
      "ticks queue visibility timeout (the orchestrator's timeout is 3/4 of it)",
    )
      .argParser(seconds)
      .default(60),
  )
  .addOption(
    new Option("--log-level <level>", "level of runtime.log")
      .choices(["DEBUG", "INFO", "WARN", "ERROR"])
      .default("INFO"),
  )
  .option("--state-dir <dir>", "where local.json and runtime.log are written", ".watchkeeper")
  .addHelpText(
    "after",
    "\nExamples:\n  npm start\n  npm start -- --data .watchkeeper/data\n  npm start -- --dynamodb-port 0 --sqs-port 0 --ses-port 0 --demo-port 0\n",
  );

interface CliOptions {
  dynamodbPort: number;
  sqsPort: number;
  sesPort: number;
  demoPort: number;
  webPort: number;
  web: boolean;
  data?: string;
  seed: boolean;
  scheduler: boolean;
  visibilityTimeout: number;
  logLevel: LogLevel;
  stateDir: string;
}

/** Fails before anything starts, naming the flag that picks another port. */
async function checkPorts(options: CliOptions): Promise<void> {
  const wanted: Array<[number, string, string]> = [
    [options.dynamodbPort, "DynamoDB Local", "--dynamodb-port"],
    [options.sqsPort, "SQS (fauxqs)", "--sqs-port"],
    [options.sesPort, "SES (aws-ses-v2-local)", "--ses-port"],
    [options.demoPort, "the demo web site", "--demo-port"],
    ...(options.web
      ? [[options.webPort, "the web dashboard", "--web-port"] as [number, string, string]]
      : []),
  ];
  for (const [number, what, flag] of wanted) {
    if (number === 0) continue;
    try {
      await assertPortFree(number, what);
    } catch {
      throw new LocalServerError(
        `port ${number} for ${what} is already in use (another \`npm start\`?). ` +
          `Stop what uses it, or pick another port with ${flag} <port> (0 = any free port).`,
      );
    }
  }
}

/** One line for a warning or error entry: who, what, and the error's own message if any. */
function describeProblem(entry: LogEntry): string {
  const error = entry.error as { message?: unknown } | string | undefined;
  const reason = typeof error === "string" ? error : typeof error?.message === "string" ? error.message : "";
  const monitor = typeof entry.monitorId === "string" ? ` [${entry.monitorId}]` : "";
  return `${entry.level.toLowerCase()} ${entry.service}${monitor}: ${entry.message}${reason ? `: ${reason}` : ""}`;
}

function header(runtime: LocalRuntime, options: CliOptions): DashboardHeader {
  const { endpoints } = runtime;
  const mode = [
    options.data ? "data kept on disk" : "in-memory data",
    options.scheduler ? "scheduler on" : pc.yellow("scheduler off (--no-scheduler)"),
  ].join(", ");
  // Each on its own line, never cut (local/dashboard-view.ts); a hint shows only where it fits.
  return {
    title: `${pc.bold("Watchkeeper local")} ${pc.dim(`(${mode})`)}`,
    links: [
      { label: "inbox", url: endpoints.inboxUrl, hint: "<- every email sent lands here" },
      ...(runtime.web
        ? [
            { label: "dashboard", url: runtime.web.url, hint: "<- sign in below" },
            {
              label: "sign in",
              url: `${runtime.web.cognito.username} / ${runtime.web.cognito.password}`,
              hint: "(cognito-local)",
            },
          ]
        : []),
      ...(endpoints.channelReceiverUrl
        ? [
            {
              label: "channels",
              url: endpoints.channelReceiverUrl,
              hint: "<- Slack, Teams, PagerDuty and webhook deliveries",
            },
          ]
        : []),
      {
        label: "demo site",
        url: `${endpoints.demoSiteUrl}/health`,
        hint: "(also /status/503, /slow?ms=1500)",
      },
      { label: "dynamodb", url: endpoints.dynamodb, hint: `table ${endpoints.tableName}` },
      { label: "sqs", url: endpoints.queueUrl },
      ...(options.data ? [{ label: "data", url: resolve(options.data) }] : []),
      { label: "logs", url: runtime.logFile },
      { label: "endpoints", url: runtime.infoFile },
    ],
  };
}

async function main(): Promise<void> {
  // The SDK warns once per process that Node 20 support ends; the local runtime is not affected.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  program.parse();
  const options = program.opts<CliOptions>();
  if (options.data) mkdirSync(options.data, { recursive: true });
  await checkPorts(options);

  process.stdout.write(
    pc.dim(`Starting DynamoDB Local, SQS, SES${options.web ? ", cognito-local" : ""} on 127.0.0.1…\n`),
  );
  // A signal during start-up must still end the Java child: exiting runs the exit hook that kills
  // it (local/servers.ts), which a default signal death would skip.
  const duringStartup = () => process.exit(130);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.once(signal, duringStartup);
  let dashboard: Dashboard | undefined;
  const runtime = await startLocalRuntime({
    ports: {
      dynamodb: options.dynamodbPort,
      sqs: options.sqsPort,
      ses: options.sesPort,
      demoSite: options.demoPort,
    },
    ...(options.data ? { dataDir: options.data } : {}),
    seed: options.seed,
    scheduler: options.scheduler,
    web: options.web ? { port: options.webPort } : false,
    stateDir: options.stateDir,
    visibilityTimeoutSeconds: options.visibilityTimeout,
    logLevel: options.logLevel,
    onLog: (entry) => {
      if (entry.level === "WARN" || entry.level === "ERROR") {
        const colour = entry.level === "ERROR" ? pc.red : pc.yellow;
        // Log messages carry errors and ids from the table: no escape sequence reaches the terminal.
        dashboard?.note(colour(cellText(describeProblem(entry))));
      }
    },
  });

  dashboard = startDashboard({ runtime, out: process.stdout, header: header(runtime, options) });
  if (!runtime.dynamodbLoopbackOnly) {
    dashboard.note(
      pc.yellow(
        `DynamoDB Local listens on all interfaces (port ${new URL(runtime.endpoints.dynamodb).port}), not only 127.0.0.1: ` +
          "this Java has no compiler (jdk.compiler) for its loopback launcher. Install a JDK (openjdk-17-jdk-headless) or firewall the port (docs/local.md).",
      ),
    );
  }
  if (runtime.seeded.length > 0) {
    dashboard.note(
      `seeded ${runtime.seeded.length} example monitors: alerts, reminders and recoveries within ~5 minutes`,
    );
  } else if (runtime.tableExisted) {
    dashboard.note("reusing the monitors already in the table");
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      // A second Ctrl-C: leave now; servers.ts still kills DynamoDB Local on exit.
      process.exit(130);
    }
    stopping = true;
    await dashboard?.stop();
    process.stdout.write(`\n${pc.dim(`${signal}: stopping…`)}\n`);
    await runtime.stop();
    process.stdout.write(`${pc.dim("stopped.")}\n`);
    process.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.off(signal, duringStartup);
    process.on(signal, () => void stop(signal));
  }
}

main().catch((error: unknown) => {
  const message =
    error instanceof LocalServerError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  process.stderr.write(`${pc.red("npm start failed:")} ${message}\n`);
  process.exit(1);
});
