import { readFileSync } from "node:fs";
import { ExecuteStatementCommand, RDSDataClient, RDSDataServiceException } from "@aws-sdk/client-rds-data";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "#core/ports.ts";
import { createSqlCheck, SQL_CHECK, sqlCheck } from "#monitors/sql.ts";
import { InvalidParamsError } from "#monitors/support/params.ts";
import type { CheckContext } from "#monitors/types.ts";

/**
 * No local server speaks the RDS Data API: requests and answers are checked with
 * aws-sdk-client-mock, shaped as the API returns typed records (`includeResultMetadata`).
 */

const CLUSTER = "arn:aws:rds:eu-west-1:123456789012:cluster:orders";
const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-readonly-AbCdEf";
const SQL = "SELECT count(*) AS n FROM orders WHERE created_at > now() - interval '1 day'";
const base = { resourceArn: CLUSTER, secretArn: SECRET, sql: SQL };

const rds = mockClient(RDSDataClient);
beforeEach(() => rds.reset());
afterEach(() => rds.reset());

function context(params: Record<string, unknown>, signal = AbortSignal.timeout(5_000)): CheckContext {
  return { monitorId: "orders-flow", params, signal, logger: silentLogger, now: new Date() };
}
const run = (params: Record<string, unknown>, signal?: AbortSignal) => sqlCheck.run(context(params, signal));

const sdkError = (name: string, message = name) =>
  new RDSDataServiceException({ name, message, $fault: "client", $metadata: { httpStatusCode: 400 } });

/** A Data API answer: column labels and rows of typed fields. */
function answer(labels: string[], rows: unknown[][]) {
  return {
    columnMetadata: labels.map((label) => ({ name: label, label })),
    records: rows,
  } as never;
}

describe("sql check", () => {
  it("is registered under the name config items use", () => {
    expect(sqlCheck.name).toBe(SQL_CHECK);
    expect(SQL_CHECK).toBe("sql");
  });

  it("sends one ExecuteStatement with typed records and metadata, in the cluster's region", async () => {
    rds.on(ExecuteStatementCommand).resolves(answer(["n"], [[{ longValue: 3 }]]));
    await run({ ...base, database: "shop", expect: { op: ">=", value: 1 } });
    const calls = rds.commandCalls(ExecuteStatementCommand);
    expect(calls.map((call) => call.args[0].input)).toEqual([
      { resourceArn: CLUSTER, secretArn: SECRET, database: "shop", sql: SQL, includeResultMetadata: true },
    ]);
    const client = calls[0]?.thisValue as RDSDataClient | undefined;
    expect(await client?.config.region()).toBe("eu-west-1");
    // No database: the cluster's default, and no `database` key at all.
    await run({ ...base, expect: { op: ">=", value: 1 } });
    expect(rds.commandCalls(ExecuteStatementCommand)[1]?.args[0].input).not.toHaveProperty("database");
  });

  it("compares a number in the first column", async () => {
    rds.on(ExecuteStatementCommand).resolves(answer(["n"], [[{ longValue: 42 }]]));
    await expect(run({ ...base, expect: { op: ">=", value: 1 } })).resolves.toEqual({
      isOk: true,
      message: "column n is 42, as expected >= 1",
    });
    rds.on(ExecuteStatementCommand).resolves(answer(["n"], [[{ longValue: 0 }]]));
    await expect(run({ ...base, expect: { op: ">=", value: 1 } })).resolves.toEqual({
      isOk: false,
      message: "column n is 0, expected >= 1",
    });
  });

  it.each([
    [">=", 5, 5, true],
    [">", 5, 5, false],
    ["=", 5, 5, true],
    ["<=", 6, 5, false],
    ["<", 4, 5, true],
    ["!=", 5, 5, false],
    ["!=", 4.5, 5, true],
  ] as const)("%s: %d against %d is %s", async (op, actual, value, isOk) => {
    rds.on(ExecuteStatementCommand).resolves(answer(["x"], [[{ doubleValue: actual }]]));
    await expect(run({ ...base, expect: { op, value } })).resolves.toMatchObject({ isOk });
  });

  it("reads DECIMAL/NUMERIC columns (numeric text) as numbers, and refuses other text without showing it", async () => {
    rds.on(ExecuteStatementCommand).resolves(answer(["total"], [[{ stringValue: "1234.50" }]]));
    await expect(run({ ...base, expect: { op: ">", value: 1000 } })).resolves.toEqual({
      isOk: true,
      message: "column total is 1234.5, as expected > 1000",
    });
    rds.on(ExecuteStatementCommand).resolves(answer(["total"], [[{ stringValue: "jane@example.com" }]]));
    await expect(run({ ...base, expect: { op: ">", value: 1000 } })).resolves.toEqual({
      isOk: false,
      message: "column total is a string of 16 characters, not a number (expected > 1000)",
    });
  });

  it("compares text with a string, never showing a string cell", async () => {
    rds
      .on(ExecuteStatementCommand)
      .resolves(answer(["status", "detail"], [[{ stringValue: "failed" }, { stringValue: "x" }]]));
    const failed = await run({ ...base, expect: { column: "status", op: "=", value: "ok" } });
    expect(failed).toEqual({
      isOk: false,
      message: 'column status is a string of 6 characters, expected = "ok"',
    });
    expect(failed.message).not.toContain("failed");
    await expect(run({ ...base, expect: { column: "status", op: "!=", value: "ok" } })).resolves.toEqual({
      isOk: true,
      message: 'column status != "ok", as expected',
    });
    // ISO dates order as text.
    rds.on(ExecuteStatementCommand).resolves(answer(["last"], [[{ stringValue: "2026-11-21 06:00:00" }]]));
    await expect(run({ ...base, expect: { op: ">=", value: "2026-11-21" } })).resolves.toMatchObject({
      isOk: true,
    });
    // A number or a boolean compared with a string compares in its usual spelling, and is shown.
    rds.on(ExecuteStatementCommand).resolves(answer(["ok"], [[{ booleanValue: false }]]));
    await expect(run({ ...base, expect: { op: "=", value: "true" } })).resolves.toEqual({
      isOk: false,
      message: 'column ok is false, expected = "true"',
    });
  });

  it("picks a named column by name or alias, ignoring case as a fallback", async () => {
    rds.on(ExecuteStatementCommand).resolves({
      columnMetadata: [
        { name: "id", label: "id" },
        { name: "count", label: "late_orders" },
      ],
      records: [[{ longValue: 7 }, { longValue: 0 }]],
    });
    await expect(run({ ...base, expect: { column: "late_orders", op: "=", value: 0 } })).resolves.toEqual({
      isOk: true,
      message: "column late_orders is 0, as expected = 0",
    });
    await expect(
      run({ ...base, expect: { column: "Late_Orders", op: "=", value: 0 } }),
    ).resolves.toMatchObject({
      isOk: true,
    });
    await expect(run({ ...base, expect: { column: "missing", op: "=", value: 0 } })).resolves.toEqual({
      isOk: false,
      message: 'the query on cluster orders has no column "missing" (columns: "id, late_orders")',
    });
  });

  it("fails when the query returns no rows, a NULL, or a value that cannot be compared", async () => {
    rds.on(ExecuteStatementCommand).resolves(answer(["n"], []));
    await expect(run({ ...base, expect: { op: ">=", value: 1 } })).resolves.toEqual({
      isOk: false,
      message: "the query on cluster orders returned no rows",
    });
    rds.on(ExecuteStatementCommand).resolves(answer(["n"], [[{ isNull: true }]]));
    await expect(run({ ...base, expect: { op: ">=", value: 1 } })).resolves.toEqual({
      isOk: false,
      message: "column n is NULL, expected >= 1",
    });
    rds.on(ExecuteStatementCommand).resolves(answer(["b"], [[{ blobValue: new Uint8Array([1]) }]]));
    await expect(run({ ...base, expect: { op: "=", value: 1 } })).resolves.toEqual({
      isOk: false,
      message: "column b is binary, which cannot be compared (expected = 1)",
    });
  });

  it.each([
    [
      "ForbiddenException",
      `access denied to the Data API on cluster orders: list ${CLUSTER} in the stack setting checkReadArns and the secret in checkSecretArns (ForbiddenException)`,
    ],
    [
      "AccessDeniedException",
      `access denied to the Data API on cluster orders: list ${CLUSTER} in the stack setting checkReadArns and the secret in checkSecretArns (AccessDeniedException)`,
    ],
    ["NotFoundException", `cluster ${CLUSTER} was not found (NotFoundException)`],
    ["HttpEndpointNotEnabledException", "the Data API (HTTP endpoint) is not enabled on cluster orders"],
    [
      "SecretsErrorException",
      `the Data API could not use secret ${SECRET} for cluster orders: list it in the stack setting checkSecretArns and check that it holds the database user's credentials (SecretsErrorException)`,
    ],
    ["DatabaseNotFoundException", 'database "(default)" was not found on cluster orders'],
    [
      "DatabaseResumingException",
      "the database of cluster orders is resuming from auto-pause: the next tick should reach it",
    ],
    [
      "StatementTimeoutException",
      "the query on cluster orders timed out in the Data API (StatementTimeoutException)",
    ],
    ["ServiceUnavailableError", "ExecuteStatement on cluster orders failed: ServiceUnavailableError"],
  ])("%s: a failed check naming the cluster", async (name, message) => {
    rds.on(ExecuteStatementCommand).rejects(sdkError(name));
    await expect(run({ ...base, expect: { op: ">=", value: 1 } })).resolves.toEqual({ isOk: false, message });
  });

  it("reports the database's own error for a bad query, without the values it quotes", async () => {
    rds
      .on(ExecuteStatementCommand)
      .rejects(sdkError("BadRequestException", 'ERROR: relation "ordres" does not exist'));
    await expect(run({ ...base, expect: { op: ">=", value: 1 } })).resolves.toEqual({
      isOk: false,
      message:
        "the query on cluster orders failed: BadRequestException: ERROR: relation [value] does not exist",
    });
    // PostgreSQL quotes data the same way it quotes names: neither reaches the message.
    rds
      .on(ExecuteStatementCommand)
      .rejects(
        sdkError("DatabaseErrorException", 'ERROR: invalid input syntax for type uuid: "4111-1111-1111"'),
      );
    const failed = await run({ ...base, expect: { op: ">=", value: 1 } });
    expect(failed.message).not.toContain("4111");
    expect(failed.message).toContain("invalid input syntax for type uuid: [value]");
  });

  it("passes ctx.signal to the SDK and says what was aborted", async () => {
    rds.on(ExecuteStatementCommand).callsFake(() => {
      throw Object.assign(new Error("aborted"), { name: "AbortError" });
    });
    const signal = AbortSignal.abort(new Error("check timed out"));
    await expect(run({ ...base, expect: { op: ">=", value: 1 } }, signal)).rejects.toThrow(
      "query on cluster orders aborted: check timed out",
    );
  });

  it("uses an injected client for the cluster's region", async () => {
    const regions: string[] = [];
    const check = createSqlCheck({
      clientFor: (region) => {
        regions.push(region);
        return new RDSDataClient({ region });
      },
    });
    rds.on(ExecuteStatementCommand).resolves(answer(["n"], [[{ longValue: 1 }]]));
    await check.run(
      context({
        ...base,
        resourceArn: CLUSTER.replace("eu-west-1", "ap-south-1"),
        expect: { op: "=", value: 1 },
      }),
    );
    expect(regions).toEqual(["ap-south-1"]);
  });

  it("loads the RDS Data client lazily: the module imports only its types", () => {
    const source = readFileSync(new URL("../../../monitors/sql.ts", import.meta.url), "utf8");
    const sdkImports = source.split("\n").filter((line) => /^import .*@aws-sdk\//.test(line));
    expect(sdkImports.length).toBeGreaterThan(0);
    for (const line of sdkImports) expect(line).toMatch(/^import type /);
    expect(source).toContain('import("@aws-sdk/client-rds-data")');
  });

  describe("params validation names the bad param, and nothing is sent", () => {
    const ok = { ...base, expect: { op: ">=", value: 1 } };
    it.each([
      [{}, "params.resourceArn is required"],
      [{ ...ok, resourceArn: undefined }, "params.resourceArn is required"],
      [{ ...ok, resourceArn: "orders" }, "params.resourceArn must be an Aurora cluster ARN"],
      [
        { ...ok, resourceArn: CLUSTER.replace("cluster:", "db:") },
        "params.resourceArn must be an Aurora cluster ARN",
      ],
      [{ ...ok, secretArn: undefined }, "params.secretArn is required"],
      [{ ...ok, secretArn: 7 }, "params.secretArn must be a Secrets Manager secret ARN"],
      [{ ...ok, secretArn: "orders-readonly" }, "params.secretArn must be a Secrets Manager secret ARN"],
      [{ ...ok, database: "" }, "params.database must be a database name"],
      [{ ...ok, database: 1 }, "params.database must be a database name"],
      [{ ...ok, sql: undefined }, "params.sql is required"],
      [{ ...ok, sql: 1 }, "params.sql must be one SELECT statement"],
      [{ ...ok, sql: "DELETE FROM orders" }, "params.sql must be a SELECT (or WITH ... SELECT) query"],
      [{ ...ok, sql: "SELECT 1; DROP TABLE orders" }, "params.sql must be a single statement"],
      [{ ...ok, sql: "SELECT * INTO copy FROM orders" }, "params.sql must only read: it contains INTO"],
      [{ ...ok, sql: `SELECT ${"1".repeat(65_537)}` }, "params.sql must be at most 64 KiB"],
      [{ ...base }, "params.expect is required"],
      [{ ...ok, expect: ">= 1" }, 'params.expect must be a map like { op: ">=", value: 1 }'],
      [{ ...ok, expect: { value: 1 } }, "params.expect.op is required"],
      [{ ...ok, expect: { op: "==", value: 1 } }, "params.expect.op must be one of >= > = <= < !="],
      [{ ...ok, expect: { op: "=" } }, "params.expect.value is required"],
      [{ ...ok, expect: { op: "=", value: true } }, "params.expect.value must be a number or a string"],
      [{ ...ok, expect: { op: "=", value: 1, column: "" } }, "params.expect.column must be a column name"],
      [{ ...ok, expect: { op: "=", value: 1, col: "n" } }, "params.expect.col is not a known parameter"],
      [{ ...ok, region: "eu-west-1" }, "params.region is not a known parameter"],
    ])("%#: %s", async (params, expected) => {
      const error = await run(params as Record<string, unknown>).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidParamsError);
      expect((error as Error).message).toContain(expected);
      expect(rds.calls()).toHaveLength(0);
    });
  });
});
