import { type ConfigProblem, formatProblems } from "#core/schemas.ts";

/**
 * Errors the CLI reports as one line. Anything else is turned into one line by describeError, so
 * that an operator sees what to do, not an SDK stack trace (that is what --debug is for).
 */

/** A failure the user can act on; `exitCode` 1 unless the input itself was wrong (2). */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode = 1,
    /** Extra lines printed after the message (one per bad attribute, for instance). */
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

export class UnknownMonitorError extends CliError {
  override name = "UnknownMonitorError";
  constructor(monitorId: string) {
    super(`unknown monitor "${monitorId}": \`watchkeeper list\` shows the monitors of this table`);
  }
}

/** Where the command was pointed, so that an error can name it. */
export interface ErrorContext {
  tableName?: string | undefined;
  queueUrl?: string | undefined;
  region?: string | undefined;
  local?: boolean;
}

const CREDENTIAL_ERRORS = new Set(["CredentialsProviderError", "ProviderError", "TokenProviderError"]);
const REJECTED_CREDENTIALS = new Set([
  "UnrecognizedClientException",
  "InvalidClientTokenId",
  "InvalidSignatureException",
  "ExpiredTokenException",
  "ExpiredToken",
  "SignatureDoesNotMatch",
]);

export function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** One line that says what went wrong and what to do about it. */
export function describeError(error: unknown, context: ErrorContext = {}): string {
  if (error instanceof CliError) return error.message;
  if (!(error instanceof Error)) return String(error);
  const where = context.region ? ` in ${context.region}` : "";
  if (CREDENTIAL_ERRORS.has(error.name)) {
    return (
      "no AWS credentials found: configure a profile (`aws configure`, AWS_PROFILE or --profile), " +
      "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --local for the local runtime"
    );
  }
  if (REJECTED_CREDENTIALS.has(error.name)) {
    return `AWS rejected the credentials (${error.name}): refresh them (e.g. \`aws sso login\`) or pick another --profile`;
  }
  if (/region is missing/i.test(error.message)) {
    return "no AWS region: set AWS_REGION, configure one in your profile, or pass --region";
  }
  if (error.name === "ResourceNotFoundException") {
    return context.tableName
      ? `table "${context.tableName}" does not exist${where}: check --table / WATCHKEEPER_TABLE and the region`
      : `resource not found${where}: ${error.message}`;
  }
  if (error.name === "QueueDoesNotExist" || error.name === "AWS.SimpleQueueService.NonExistentQueue") {
    return `queue ${context.queueUrl ?? ""} does not exist${where}: check --queue-url / WATCHKEEPER_QUEUE_URL`;
  }
  if (error.name === "AccessDeniedException" || error.name === "AccessDenied") {
    return `access denied: ${error.message}`;
  }
  const code = causeCode(error);
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "ECONNRESET") {
    return context.local
      ? `cannot reach the local runtime (${code}): is \`npm start\` still running?`
      : `cannot reach AWS (${code}): check the network, the region and any endpoint override`;
  }
  return error.message;
}

/** Refuses a config item, one line per bad attribute. */
export class InvalidConfigError extends CliError {
  override name = "InvalidConfigError";
  constructor(monitorId: string, problems: readonly ConfigProblem[], verb = "not saved") {
    const lines = problems.map((problem) => `${monitorId}: ${formatProblems([problem])}`);
    super(lines[0] ?? `${monitorId}: ${verb}`, 1, lines.slice(1));
  }
}
