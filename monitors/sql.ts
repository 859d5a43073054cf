import type { ColumnMetadata, Field, RDSDataClient } from "@aws-sdk/client-rds-data";
import * as z from "zod/mini";
import { SECRETS_MANAGER_ARN } from "#core/secrets.ts";
import { abortedError } from "./support/abort.ts";
import { checkClientConfig, lazyImport, regionalClients } from "./support/clients.ts";
import { errorText, quote } from "./support/format.ts";
import { must, mustBe, parseParams } from "./support/params.ts";
import { readOnlySqlProblem } from "./support/read-only-sql.ts";
import type { CheckContext, CheckDefinition, CheckResult } from "./types.ts";

/**
 * `sql`: one read-only query through the RDS Data API (Aurora PostgreSQL or MySQL; no VPC, no
 * driver, no connection pool), whose first row decides: `expect` compares its first column, or a
 * named one, with a number or a text. No row is a failed check.
 *
 * Read-only is enforced by the database: the secret must hold a read-only database user. The
 * check also refuses obviously non-read SQL before sending it (monitors/support/read-only-sql.ts),
 * as defence in depth only. Messages show numbers (the point of a `count(*)`), never the text of a
 * string column, which may be customer data: a string is described by its length.
 */

export const SQL_CHECK = "sql";

/** `arn:aws:rds:<region>:<account>:cluster:<identifier>` (the Data API addresses clusters). */
export const RDS_CLUSTER_ARN = /^arn:aws[a-z-]*:rds:([a-z0-9-]+):\d{12}:cluster:[A-Za-z][A-Za-z0-9-]{0,62}$/;

export const SQL_OPERATORS = [">=", ">", "=", "<=", "<", "!="] as const;
export type SqlOperator = (typeof SQL_OPERATORS)[number];

/** The Data API's synchronous limit: past it, ExecuteStatement answers StatementTimeoutException. */
const DATA_API_REQUEST_MS = 45_000;

export const SqlParamsSchema = z.strictObject({
  resourceArn: z
    .string({ error: must("must be an Aurora cluster ARN") })
    .check(
      z.regex(
        RDS_CLUSTER_ARN,
        "must be an Aurora cluster ARN (arn:aws:rds:<region>:<account>:cluster:<name>)",
      ),
    )
    .register(z.globalRegistry, {
      description:
        "ARN of the Aurora cluster, e.g. arn:aws:rds:eu-west-1:123456789012:cluster:orders (the Data API is called in its region).",
    }),
  // The full ARN, listed in checkSecretArns too: the Data API reads the secret as the orchestrator.
  secretArn: z
    .string({ error: must("must be a Secrets Manager secret ARN") })
    .check(
      z.regex(
        SECRETS_MANAGER_ARN,
        "must be a Secrets Manager secret ARN (arn:aws:secretsmanager:...:secret:<name>-<suffix>)",
      ),
    )
    .register(z.globalRegistry, {
      description:
        "Full ARN of the Secrets Manager secret holding a read-only database user's credentials (also listed in the stack setting checkSecretArns).",
    }),
  database: z
    .optional(
      z
        .string({ error: must("must be a database name") })
        .check(z.minLength(1, "must be a database name"), z.maxLength(64, "must be at most 64 characters")),
    )
    .register(z.globalRegistry, {
      description: "Database to connect to.",
      defaultText: "the cluster's default database",
    }),
  sql: z
    .string({ error: must("must be one SELECT statement") })
    .check(
      z.maxLength(65_536, "must be at most 64 KiB (the Data API's limit)"),
      z.superRefine((sql, ctx) => {
        const problem = readOnlySqlProblem(sql);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      }),
    )
    .register(z.globalRegistry, {
      description:
        "One read-only SELECT (or WITH ... SELECT); only its first row is read, so make it return one.",
    }),
  expect: z
    .strictObject(
      {
        column: z
          .optional(
            z.string({ error: must("must be a column name") }).check(z.minLength(1, "must be a column name")),
          )
          .register(z.globalRegistry, {
            description: "Column (its name or alias) to compare.",
            defaultText: "the first column",
          }),
        op: z.enum(SQL_OPERATORS, {
          // An enum reports a missing value as a bad one: say "is required" as for other params.
          error: (issue) =>
            issue.input === undefined ? "is required" : `must be one of ${SQL_OPERATORS.join(" ")}`,
        }),
        value: z.union([z.number(), z.string()], { error: must("must be a number or a string") }),
      },
      { error: mustBe('must be a map like { op: ">=", value: 1 }') },
    )
    .register(z.globalRegistry, {
      description:
        'What the first row must hold: { column?, op, value }, e.g. { op: ">=", value: 1 }; a number compares as a number, a string as text; column defaults to the first one.',
    }),
});
export type SqlParams = z.infer<typeof SqlParamsSchema>;

type RdsDataSdk = typeof import("@aws-sdk/client-rds-data");

/** A cell of the first row, as the typed (non-JSON) records of the Data API give it. */
export type Cell =
  | { kind: "null" }
  | { kind: "number"; value: number }
  | { kind: "string"; value: string }
  | { kind: "boolean"; value: boolean }
  | { kind: "other"; type: string };

export function cellOf(field: Field | undefined): Cell {
  if (!field || field.isNull) return { kind: "null" };
  if (field.longValue !== undefined) return { kind: "number", value: field.longValue };
  if (field.doubleValue !== undefined) return { kind: "number", value: field.doubleValue };
  if (field.stringValue !== undefined) return { kind: "string", value: field.stringValue };
  if (field.booleanValue !== undefined) return { kind: "boolean", value: field.booleanValue };
  if (field.blobValue !== undefined) return { kind: "other", type: "binary" };
  if (field.arrayValue !== undefined) return { kind: "other", type: "an array" };
  return { kind: "other", type: "of an unknown type" };
}

function compare<T extends number | string>(left: T, op: SqlOperator, right: T): boolean {
  switch (op) {
    case ">=":
      return left >= right;
    case ">":
      return left > right;
    case "=":
      return left === right;
    case "<=":
      return left <= right;
    case "<":
      return left < right;
    case "!=":
      return left !== right;
  }
}

/** Decimal and numeric columns arrive as strings (exact digits): a number is expected from them. */
const NUMERIC_TEXT = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

function describeString(value: string): string {
  const characters = [...value].length;
  return characters === 0
    ? "an empty string"
    : `a string of ${characters} character${characters === 1 ? "" : "s"}`;
}

/**
 * The verdict on one cell (pure). A number expected: the cell must be a number, or numeric text
 * (DECIMAL/NUMERIC). A string expected: the cell compares as text (numbers and booleans in their
 * usual spelling; `<` and `>` by code points, which orders ISO dates). Never shows string cells.
 */
export function judgeCell(cell: Cell, column: string, expected: SqlParams["expect"]): CheckResult {
  const { op, value } = expected;
  const wanted = `${op} ${typeof value === "number" ? value : quote(value)}`;
  const subject = `column ${column}`;
  if (cell.kind === "null") return { isOk: false, message: `${subject} is NULL, expected ${wanted}` };
  if (cell.kind === "other") {
    return {
      isOk: false,
      message: `${subject} is ${cell.type}, which cannot be compared (expected ${wanted})`,
    };
  }
  if (typeof value === "number") {
    const actual =
      cell.kind === "number"
        ? cell.value
        : cell.kind === "string" && NUMERIC_TEXT.test(cell.value)
          ? Number(cell.value)
          : undefined;
    if (actual === undefined || !Number.isFinite(actual)) {
      const what = cell.kind === "string" ? describeString(cell.value) : `a ${cell.kind}`;
      return { isOk: false, message: `${subject} is ${what}, not a number (expected ${wanted})` };
    }
    const isOk = compare(actual, op, value);
    return { isOk, message: `${subject} is ${actual}, ${isOk ? "as expected" : "expected"} ${wanted}` };
  }
  const text = cell.kind === "string" ? cell.value : String(cell.value);
  const isOk = compare(text, op, value);
  // A number or a boolean is shown; a string cell never is (it may be customer data).
  const shown = cell.kind === "string" ? describeString(cell.value) : text;
  return isOk
    ? { isOk, message: `${subject} ${wanted}, as expected` }
    : { isOk, message: `${subject} is ${shown}, expected ${wanted}` };
}

function columnLabel(metadata: ColumnMetadata | undefined, index: number): string {
  return metadata?.label || metadata?.name || `#${index + 1}`;
}

/** The index of the column the params name: exact label or name first, then ignoring case. */
function findColumn(columns: readonly ColumnMetadata[], wanted: string): number {
  const exact = columns.findIndex((column) => column.label === wanted || column.name === wanted);
  if (exact >= 0) return exact;
  const lower = wanted.toLowerCase();
  return columns.findIndex(
    (column) => column.label?.toLowerCase() === lower || column.name?.toLowerCase() === lower,
  );
}

export interface SqlOptions {
  /** Client for a region. @default cached `new RDSDataClient(...)` with a 45 s request bound */
  clientFor?: (region: string) => RDSDataClient;
}

export function createSqlCheck(options: SqlOptions = {}): CheckDefinition {
  // Loaded on the first run only: a fleet of http monitors never parses the RDS Data client.
  const loadSdk = lazyImport((): Promise<RdsDataSdk> => import("@aws-sdk/client-rds-data"));
  let clients = options.clientFor;

  async function run(ctx: CheckContext): Promise<CheckResult> {
    const params = parseParams(SQL_CHECK, SqlParamsSchema, ctx.params);
    const [, region = ""] = RDS_CLUSTER_ARN.exec(params.resourceArn) ?? [];
    const cluster = params.resourceArn.slice(params.resourceArn.lastIndexOf(":") + 1);
    const rds = await loadSdk();
    clients ??= regionalClients(
      // A query may take seconds: each attempt waits as long as the Data API itself would.
      (clientRegion) =>
        new rds.RDSDataClient(
          checkClientConfig(clientRegion, { connectMs: 3_000, requestMs: DATA_API_REQUEST_MS }),
        ),
    );

    let records: Field[][] | undefined;
    let columns: ColumnMetadata[];
    try {
      const output = await clients(region).send(
        new rds.ExecuteStatementCommand({
          resourceArn: params.resourceArn,
          secretArn: params.secretArn,
          ...(params.database === undefined ? {} : { database: params.database }),
          sql: params.sql,
          // Typed fields with column metadata: exact column order and names, numbers as numbers.
          includeResultMetadata: true,
        }),
        { abortSignal: ctx.signal },
      );
      records = output.records;
      columns = output.columnMetadata ?? [];
    } catch (error) {
      if (ctx.signal.aborted) throw abortedError(ctx.signal, `query on cluster ${cluster}`);
      return { isOk: false, message: failureMessage(error, params, cluster) };
    }

    const row = records?.[0];
    ctx.logger.debug("sql check", { cluster, rows: records?.length ?? 0 });
    if (!row) return { isOk: false, message: `the query on cluster ${cluster} returned no rows` };
    let index = 0;
    if (params.expect.column !== undefined) {
      index = findColumn(columns, params.expect.column);
      if (index < 0) {
        const names = columns.map((column, position) => columnLabel(column, position)).join(", ");
        return {
          isOk: false,
          message: `the query on cluster ${cluster} has no column ${quote(params.expect.column)} (columns: ${quote(names, 200)})`,
        };
      }
    }
    if (index >= row.length)
      return { isOk: false, message: `the query on cluster ${cluster} returned no columns` };
    return judgeCell(cellOf(row[index]), columnLabel(columns[index], index), params.expect);
  }

  return {
    name: SQL_CHECK,
    description:
      'OK while the first row of one read-only SELECT (params.sql, through the RDS Data API on the Aurora cluster params.resourceArn) holds what params.expect says, e.g. { op: ">=", value: 1 }.',
    paramsSchema: SqlParamsSchema,
    example: {
      name: "Orders arrived in the last day",
      schedule: "rate(1 hour)",
      params: {
        resourceArn: "arn:aws:rds:eu-west-1:123456789012:cluster:shop",
        secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shop-watchkeeper-ro-AbCdEf",
        database: "shop",
        sql: "SELECT count(*) AS n FROM orders WHERE created_at > now() - interval '1 day'",
        expect: { column: "n", op: ">=", value: 1 },
      },
    },
    run,
  };
}

/** One clear sentence per Data API error, naming the cluster (and the secret when it is at fault). */
function failureMessage(error: unknown, params: SqlParams, cluster: string): string {
  const name = (error as Error).name;
  switch (name) {
    case "AccessDeniedException":
    case "ForbiddenException":
      return `access denied to the Data API on cluster ${cluster}: list ${params.resourceArn} in the stack setting checkReadArns and the secret in checkSecretArns (${errorText(error)})`;
    case "NotFoundException":
      return `cluster ${params.resourceArn} was not found (${errorText(error)})`;
    case "HttpEndpointNotEnabledException":
      return `the Data API (HTTP endpoint) is not enabled on cluster ${cluster}`;
    case "SecretsErrorException":
    case "InvalidSecretException":
      return `the Data API could not use secret ${params.secretArn} for cluster ${cluster}: list it in the stack setting checkSecretArns and check that it holds the database user's credentials (${errorText(error)})`;
    case "DatabaseNotFoundException":
      return `database ${quote(params.database ?? "(default)")} was not found on cluster ${cluster}`;
    case "DatabaseResumingException":
      return `the database of cluster ${cluster} is resuming from auto-pause: the next tick should reach it`;
    case "DatabaseUnavailableException":
      return `the database of cluster ${cluster} is unavailable (${errorText(error)})`;
    case "StatementTimeoutException":
      return `the query on cluster ${cluster} timed out in the Data API (${errorText(error)})`;
    case "BadRequestException":
    case "DatabaseErrorException":
      // The database quotes the offending value ("invalid input syntax for type uuid: "<value>""):
      // keep the words, never the data.
      return `the query on cluster ${cluster} failed: ${withoutQuotedValues(errorText(error))}`;
    default:
      return `ExecuteStatement on cluster ${cluster} failed: ${errorText(error)}`;
  }
}

/** A database error message with its quoted values (data, not the error's words) blanked. */
export function withoutQuotedValues(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, "[value]");
}

export const sqlCheck = createSqlCheck();
