import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshTable } from "../../support/aws.ts";
import { type CliHarness, cliHarness } from "./support.ts";

/** The CLI and secret references: accepted where a string goes, printed as written, never resolved. */

const SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:partner/api-AbCdEf";
const PARAMETER = "arn:aws:ssm:eu-west-1:123456789012:parameter/watchkeeper/health-url";

let cli: CliHarness;

beforeAll(async () => {
  const { tableName } = await freshTable("cli-secrets");
  cli = await cliHarness(tableName);
});
afterAll(() => cli.close());

describe("secret references in the CLI", () => {
  it("add accepts a reference for a header and for the URL, and show prints the references", async () => {
    const added = await cli.run([
      "add",
      "partner",
      "--name",
      "Partner API",
      "--check",
      "http",
      "--schedule",
      "rate(5 minutes)",
      "--param",
      `url={"secretRef":"${PARAMETER}"}`,
      "--param",
      `headers={"Authorization":{"secretRef":"${SECRET}#token"}}`,
    ]);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    const shown = await cli.run(["show", "partner", "--json"]);
    expect(shown.json().config.params).toEqual({
      url: { secretRef: PARAMETER },
      headers: { Authorization: { secretRef: `${SECRET}#token` } },
    });
    const text = await cli.run(["show", "partner"]);
    expect(text.stdout).toContain(`${SECRET}#token`);
  });

  it("refuses a malformed reference, and one where no string can go", async () => {
    const refused = await cli.run([
      "add",
      "bad-ref",
      "--name",
      "Bad",
      "--check",
      "http",
      "--schedule",
      "rate(5 minutes)",
      "--param",
      "url=https://api.example.org/health",
      "--param",
      'headers={"Authorization":{"secretRef":"my-token"}}',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^error: bad-ref: params\.headers\.Authorization\.secretRef must be a Secrets Manager secret ARN/,
    );
    const mistyped = await cli.run([
      "add",
      "bad-type",
      "--name",
      "Bad",
      "--check",
      "http",
      "--schedule",
      "rate(5 minutes)",
      "--param",
      "url=https://api.example.org/health",
      "--param",
      `maxLatencyMs={"secretRef":"${PARAMETER}"}`,
    ]);
    expect(mistyped.code).toBe(1);
    expect(mistyped.stderr).toContain("params.maxLatencyMs must be a positive number of milliseconds");
  });

  it("export writes the references, and import takes them back", async () => {
    const exported = await cli.run(["export", "partner"]);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain(`${SECRET}#token`);
    const file = await cli.writeFile(
      "monitors.json",
      JSON.stringify([
        {
          monitorId: "imported",
          name: "Imported",
          check: "http",
          schedule: "rate(5 minutes)",
          params: { url: "https://api.example.org/x", headers: { "x-api-key": { secretRef: PARAMETER } } },
        },
      ]),
    );
    const imported = await cli.run(["import", file]);
    expect(imported).toMatchObject({ code: 0 });
    expect((await cli.run(["show", "imported", "--json"])).json().config.params.headers).toEqual({
      "x-api-key": { secretRef: PARAMETER },
    });
  });
});
