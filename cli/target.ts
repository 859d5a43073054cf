import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { DynamoDBClient, paginateListTables } from "@aws-sdk/client-dynamodb";
import { SchedulerClient } from "@aws-sdk/client-scheduler";
import { SESv2Client } from "@aws-sdk/client-sesv2";
import { paginateListQueues, SQSClient } from "@aws-sdk/client-sqs";
import * as z from "zod";
import { createDocumentClient } from "#adapters/dynamodb-store.ts";
import { LOCAL_CREDENTIALS } from "#local/servers.ts";
import { CliError, type ErrorContext } from "./errors.ts";
import type { CliIo } from "./io.ts";

/**
 * Where a command reads and writes: the deployed stack (default credential chain and region) or
 * the local runtime of `npm start`, described by the `local.json` it writes.
 */

export interface TargetOptions {
  local?: boolean;
  stateDir: string;
  table?: string;
  queueUrl?: string;
  region?: string;
  profile?: string;
  stack: string;
}

/** Clients a caller (the tests) may hand in; the CLI then neither creates nor destroys them. */
export interface CliClients {
  dynamodb?: DynamoDBClient;
  sqs?: SQSClient;
  ses?: SESv2Client;
  scheduler?: SchedulerClient;
}

/** The part of `.watchkeeper/local.json` (local/runtime.ts LocalEndpoints) the CLI needs. */
const LocalInfoSchema = z.object({
  region: z.string(),
  dynamodb: z.url(),
  sqs: z.url(),
  tableName: z.string(),
  queueUrl: z.string(),
  // Read by `doctor` only; absent from a local.json an older runtime wrote.
  ses: z.url().optional(),
  deliveryRetryQueueUrl: z.string().optional(),
  senderEmail: z.string().optional(),
  inboxUrl: z.string().optional(),
  // The channel receiver of `npm start` (issue 15) and the Secrets Manager stand-in it serves.
  channelReceiverUrl: z.url().optional(),
  secretsManager: z.url().optional(),
  pid: z.number().int().optional(),
});
export type LocalInfo = z.infer<typeof LocalInfoSchema>;

export async function readLocalInfo(stateDir: string, cwd: string): Promise<LocalInfo> {
  const file = resolve(cwd, stateDir, "local.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new CliError(
      `no local runtime: ${file} does not exist. Start one with \`npm start\` (or point --state-dir at its directory)`,
    );
  }
  let parsed: LocalInfo;
  try {
    parsed = LocalInfoSchema.parse(JSON.parse(text));
  } catch {
    throw new CliError(`${file} is not a local runtime description: restart \`npm start\``);
  }
  if (parsed.pid !== undefined && !processAlive(parsed.pid)) {
    throw new CliError(
      `the local runtime of ${file} (pid ${parsed.pid}) is not running: start it again with \`npm start\``,
    );
  }
  return parsed;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class Target {
  readonly doc;
  #tableName: string | undefined;
  #queueUrl: string | undefined;
  #sqs: SQSClient | undefined;
  #ses: SESv2Client | undefined;
  #scheduler: SchedulerClient | undefined;
  readonly #owned: Array<{ destroy(): void }> = [];

  private constructor(
    private readonly options: TargetOptions,
    private readonly env: CliIo["env"],
    readonly dynamodb: DynamoDBClient,
    private readonly clientConfig: Record<string, unknown>,
    private readonly injected: CliClients,
    readonly local: LocalInfo | undefined,
  ) {
    this.doc = createDocumentClient(dynamodb);
    // --local means the runtime's own table and queue: an exported WATCHKEEPER_* variable meant for
    // AWS must not send `run --local` to a real queue. Explicit flags still win.
    this.#tableName = options.table ?? (local ? local.tableName : env.WATCHKEEPER_TABLE);
    this.#queueUrl = options.queueUrl ?? (local ? local.queueUrl : env.WATCHKEEPER_QUEUE_URL);
  }

  static async open(options: TargetOptions, io: CliIo, clients: CliClients = {}): Promise<Target> {
    const local = options.local ? await readLocalInfo(options.stateDir, io.cwd) : undefined;
    const clientConfig: Record<string, unknown> = local
      ? { region: local.region, credentials: LOCAL_CREDENTIALS }
      : {
          ...(options.region ? { region: options.region } : {}),
          ...(options.profile ? { profile: options.profile } : {}),
        };
    const dynamodb =
      clients.dynamodb ??
      new DynamoDBClient({ ...clientConfig, ...(local ? { endpoint: local.dynamodb } : {}) });
    const target = new Target(options, io.env, dynamodb, clientConfig, clients, local);
    if (!clients.dynamodb) target.#owned.push(dynamodb);
    return target;
  }

  /**
   * The SDK client configuration of this target (region, profile; local credentials with --local),
   * for clients a command creates itself (`channel test`: Secrets Manager, SSM, SNS).
   */
  get awsConfig(): Readonly<Record<string, unknown>> {
    return this.clientConfig;
  }

  /** What an error message should name. */
  get errorContext(): ErrorContext {
    return {
      tableName: this.#tableName,
      queueUrl: this.#queueUrl,
      region: this.local?.region ?? this.options.region ?? this.env.AWS_REGION ?? this.env.AWS_DEFAULT_REGION,
      local: this.local !== undefined,
    };
  }

  /**
   * The Monitors table: --table, WATCHKEEPER_TABLE, local.json, or else the one table whose name
   * CloudFormation derived from the stack (`<stack>-MonitorsTable…`, the stack sets no name).
   */
  async tableName(): Promise<string> {
    if (this.#tableName) return this.#tableName;
    const prefix = `${this.options.stack}-MonitorsTable`;
    const found: string[] = [];
    for await (const page of paginateListTables({ client: this.dynamodb }, {})) {
      found.push(...(page.TableNames ?? []).filter((name) => name.startsWith(prefix)));
    }
    this.#tableName = this.#single(found, `table named ${prefix}*`, "--table", "WATCHKEEPER_TABLE");
    return this.#tableName;
  }

  sqs(): SQSClient {
    if (this.injected.sqs) return this.injected.sqs;
    if (!this.#sqs) {
      this.#sqs = new SQSClient({
        ...this.clientConfig,
        ...(this.local ? { endpoint: this.local.sqs } : {}),
      });
      this.#owned.push(this.#sqs);
    }
    return this.#sqs;
  }

  /** SES v2: the local runtime's aws-ses-v2-local with --local (`doctor`). */
  ses(): SESv2Client {
    if (this.injected.ses) return this.injected.ses;
    if (!this.#ses) {
      if (this.local && !this.local.ses) {
        throw new CliError("local.json names no SES endpoint: restart `npm start` with this version");
      }
      this.#ses = new SESv2Client({
        ...this.clientConfig,
        ...(this.local?.ses ? { endpoint: this.local.ses } : {}),
      });
      this.#owned.push(this.#ses);
    }
    return this.#ses;
  }

  /** EventBridge Scheduler (`doctor`); the local runtime has no Scheduler server to point it at. */
  scheduler(): SchedulerClient {
    if (this.injected.scheduler) return this.injected.scheduler;
    if (!this.#scheduler) {
      this.#scheduler = new SchedulerClient(this.clientConfig);
      this.#owned.push(this.#scheduler);
    }
    return this.#scheduler;
  }

  /** The ticks queue: --queue-url, WATCHKEEPER_QUEUE_URL, local.json, or `<stack>-TicksQueue….fifo`. */
  async queueUrl(): Promise<string> {
    if (this.#queueUrl) return this.#queueUrl;
    const prefix = `${this.options.stack}-TicksQueue`;
    const found: string[] = [];
    for await (const page of paginateListQueues({ client: this.sqs() }, { QueueNamePrefix: prefix })) {
      found.push(...(page.QueueUrls ?? []).filter((url) => url.endsWith(".fifo")));
    }
    this.#queueUrl = this.#single(
      found,
      `FIFO queue named ${prefix}*`,
      "--queue-url",
      "WATCHKEEPER_QUEUE_URL",
    );
    return this.#queueUrl;
  }

  /** The one queue whose name starts with `<stack>-<logicalId>` (CloudFormation's generated names). */
  async findStackQueue(logicalId: string, fifo: boolean, flag: string, variable: string): Promise<string> {
    const prefix = `${this.options.stack}-${logicalId}`;
    const found: string[] = [];
    for await (const page of paginateListQueues({ client: this.sqs() }, { QueueNamePrefix: prefix })) {
      found.push(...(page.QueueUrls ?? []).filter((url) => url.endsWith(".fifo") === fifo));
    }
    return this.#single(found, `${fifo ? "FIFO " : ""}queue named ${prefix}*`, flag, variable);
  }

  #single(found: string[], what: string, flag: string, variable: string): string {
    const region = this.errorContext.region ?? "the default region";
    const [first] = found;
    if (found.length === 1 && first) return first;
    if (found.length === 0) {
      throw new CliError(
        `no ${what} in ${region}: pass ${flag} or set ${variable} (see the stack outputs), --stack if the stack has another name, or --local`,
      );
    }
    throw new CliError(
      `${found.length} of ${what} in ${region} (${found.join(", ")}): pick one with ${flag}`,
    );
  }

  destroy(): void {
    for (const client of this.#owned.splice(0)) client.destroy();
  }
}
