import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleAddArgs, paramArgument } from "../../../cli/commands/checks.ts";
import { checks } from "../../../monitors/index.ts";
import { exampleConfig, paramsJsonSchema } from "../../../monitors/support/catalog.ts";
import { freshTable } from "../../support/aws.ts";
import { wrongValueFor } from "../../support/check-params.ts";
import { type CliHarness, cliHarness } from "./support.ts";

/**
 * The `watchkeeper add` command that `watchkeeper checks` prints for each check, run as printed
 * through the CLI's entry point against DynamoDB Local: it creates exactly the example config
 * item; the same command with a param of the wrong type writes nothing and names the param.
 */

let cli: CliHarness;

beforeAll(async () => {
  const { tableName } = await freshTable("cli-checks");
  cli = await cliHarness(tableName);
});
afterAll(() => cli.close());

describe.each([...checks.values()].map((check) => [check.name, check] as const))("%s", (_name, check) => {
  const args = exampleAddArgs(check) as string[];
  const { monitorId, ...expected } = exampleConfig(check) as Record<string, unknown>;

  it("its example add command creates the example config item", async () => {
    const added = await cli.run(args);
    expect(added).toMatchObject({ code: 0, stderr: "" });
    const shown = await cli.run(["show", String(monitorId), "--json"]);
    expect(shown.code).toBe(0);
    const { config, problems } = shown.json();
    expect(problems).toEqual([]);
    expect(config).toMatchObject(expected);
  });

  it("the same command with a wrong-type param writes nothing and names the param", async () => {
    const properties = paramsJsonSchema(check)?.properties as Record<string, Record<string, unknown>>;
    const [param = "", value] =
      Object.keys(check.example?.params ?? {})
        .map((name) => [name, wrongValueFor(properties[name] ?? {})] as const)
        .find(([, wrongValue]) => wrongValue !== undefined) ?? [];
    const id = `${String(monitorId).slice(0, 55)}-wrong`;
    const wrong = args.map((arg, at) =>
      at === 1 ? id : arg.startsWith(`${param}=`) ? `${param}=${paramArgument(value)}` : arg,
    );
    const refused = await cli.run(wrong);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^error: ${id}: params\\.${param} `));
    expect((await cli.run(["show", id])).code).toBe(1);
  });
});
