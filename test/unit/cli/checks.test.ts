import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { describeCheck, exampleAddArgs, paramArgument, shellQuote } from "../../../cli/commands/checks.ts";
import { configFromAddOptions } from "../../../cli/commands/manage.ts";
import { parseParamValue, validateConfigItem } from "../../../cli/config-input.ts";
import { runCli } from "../../../cli/main.ts";
import { type CheckDefinition, checks } from "../../../monitors/index.ts";
import { describeParams, exampleConfig, paramsJsonSchema } from "../../../monitors/support/catalog.ts";
import { wrongValueFor } from "../../support/check-params.ts";

/**
 * `watchkeeper checks`, and `add` validating params with each check's own schema: table-driven
 * over the registry, so that every check (today's and those added later) is held to it.
 */

async function cli(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
    cwd: "/nonexistent-watchkeeper-dir",
    now: () => new Date("2026-11-21T12:00:00Z"),
    confirm: async () => false,
  });
  return { code, stdout, stderr };
}

const registered = [...checks.values()].map((check) => [check.name, check] as const);

describe("watchkeeper checks", () => {
  it("lists every registered check with every param and its example, without a table or runtime", async () => {
    // --local with no runtime: a command that opened a target would fail here.
    const { code, stdout, stderr } = await cli(["checks", "--local", "--state-dir", "nowhere"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    for (const check of checks.values()) {
      expect(stdout).toContain(`${check.name}: ${check.description}`);
      for (const param of describeParams(check)) expect(stdout).toMatch(new RegExp(`^${param.name} `, "m"));
      expect(stdout).toContain(describeCheck(check).exampleAddCommand as string);
    }
    expect(stdout).toContain(`${checks.size} checks.`);
  });

  it("shows the columns: type, default (required, a value or words) and description", async () => {
    const { stdout } = await cli(["checks"]);
    expect(stdout).toMatch(/^PARAM +TYPE +DEFAULT +DESCRIPTION$/m);
    expect(stdout).toMatch(/^url +string +required +The http:\/\/ or https:\/\/ URL/m);
    expect(stdout).toMatch(/^method +"GET" \| "HEAD" +"GET" +GET or HEAD/m);
    expect(stdout).toMatch(/^expectedStatus +integer \(100 to 599\) \| non-empt… +any 2xx +The status code/m);
    expect(stdout).toMatch(/^maxMessages +integer \(≥ 1\) +1 +OK while/m);
  });

  it.each(registered)(
    "shows %s in full: every param with its description, the example item and command",
    async (name, check) => {
      const { code, stdout } = await cli(["checks", name]);
      expect(code).toBe(0);
      expect(stdout.startsWith(`${name}\n  ${check.description}\n`)).toBe(true);
      for (const param of describeParams(check)) {
        expect(stdout).toContain(
          `  ${param.name}  (${param.type}, ${param.required ? "required" : "optional, default "}`,
        );
        expect(stdout).toContain(`    ${param.description}\n`);
      }
      expect(stdout).toContain(JSON.stringify(exampleConfig(check), null, 2));
      expect(stdout).toContain(`  ${describeCheck(check).exampleAddCommand}\n`);
    },
  );

  it("prints the same as JSON, with the params' JSON Schema", async () => {
    const all = await cli(["checks", "--json"]);
    expect(all.code).toBe(0);
    expect(JSON.parse(all.stdout)).toEqual(
      JSON.parse(JSON.stringify([...checks.values()].map(describeCheck))),
    );
    const one = await cli(["checks", "http", "--json"]);
    const body = JSON.parse(one.stdout);
    expect(body.paramsJsonSchema).toEqual(paramsJsonSchema(checks.get("http") as CheckDefinition));
    expect(body.params.find((param: { name: string }) => param.name === "method")).toEqual({
      name: "method",
      type: '"GET" | "HEAD"',
      required: false,
      hasDefault: true,
      default: "GET",
      description: "GET or HEAD (any case).",
    });
  });

  it("refuses an unknown check with the known names (exit 2)", async () => {
    const { code, stdout, stderr } = await cli(["checks", "htp"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(`error: unknown check "htp" (known: ${[...checks.keys()].join(", ")})\n`);
  });

  it("names every registered check in `add --help`", async () => {
    const { stdout } = await cli(["add", "--help"]);
    for (const name of checks.keys()) expect(stdout).toContain(name);
    expect(stdout).toContain("`watchkeeper checks`");
  });
});

describe("the example add command", () => {
  it.each(registered)("of %s reads back, through a POSIX shell, as the very arguments", (_name, check) => {
    const command = describeCheck(check).exampleAddCommand as string;
    const printed = execFileSync("sh", ["-c", `printf '%s\\0' ${command}`], { encoding: "utf8" });
    expect(printed.split("\0").slice(0, -1)).toEqual(["watchkeeper", ...(exampleAddArgs(check) ?? [])]);
  });

  it("quotes only what a shell would read differently", () => {
    expect(shellQuote("rate(1 minute)")).toBe("'rate(1 minute)'");
    expect(shellQuote("url=https://x.org/a?b=1&c=2")).toBe("'url=https://x.org/a?b=1&c=2'");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote("")).toBe("''");
    expect(shellQuote("oncall@example.org")).toBe("oncall@example.org");
    const printed = execFileSync(
      "sh",
      ["-c", `printf '%s\\0' ${["it's $HOME `x`", ""].map(shellQuote).join(" ")}`],
      {
        encoding: "utf8",
      },
    );
    expect(printed).toBe("it's $HOME `x`\0\0");
  });

  it("spells each --param value so that add reads back the same value", () => {
    for (const value of [
      "https://x.org",
      "200",
      "true",
      '"quoted"',
      "[1]",
      200,
      true,
      [1, 2],
      { a: "b" },
      "",
      "a=b",
    ]) {
      expect(parseParamValue(paramArgument(value)), JSON.stringify(value)).toEqual(value);
    }
  });
});

/** `add` options as Commander hands them over, from the example's arguments. */
function addOptions(args: readonly string[]): { id: string; options: Record<string, unknown> } {
  const [command, id, ...rest] = args;
  expect(command).toBe("add");
  const options: Record<string, unknown> = {};
  for (let at = 0; at < rest.length; at += 2) {
    const flag = rest[at] as string;
    const value = rest[at + 1] as string;
    if (flag === "--param") options.param = [...((options.param as string[]) ?? []), value];
    else if (["--name", "--check", "--schedule", "--notify"].includes(flag)) options[flag.slice(2)] = value;
    else throw new Error(`unexpected flag ${flag}`);
  }
  return { id: id as string, options };
}

describe("add validates params with the check's own schema", () => {
  it.each(registered)(
    "accepts the example of %s and stores exactly its config item",
    async (_name, check) => {
      const { id, options } = addOptions(exampleAddArgs(check) as string[]);
      const { monitorId, attributes, problems } = await configFromAddOptions(id, options, "/", {});
      expect(problems).toEqual([]);
      const { monitorId: exampleId, ...expected } = exampleConfig(check) as Record<string, unknown>;
      expect(monitorId).toBe(exampleId);
      expect(attributes).toEqual(expected);
      expect(validateConfigItem(exampleId as string, expected)).toEqual([]);
    },
  );

  it.each(registered)("refuses a param of %s of the wrong type, naming it", async (_name, check) => {
    const properties = (paramsJsonSchema(check)?.properties ?? {}) as Record<string, Record<string, unknown>>;
    let tested = 0;
    for (const [param, property] of Object.entries(properties)) {
      const wrong = wrongValueFor(property);
      if (wrong === undefined) continue;
      tested += 1;
      const { id, options } = addOptions(exampleAddArgs(check) as string[]);
      const others = (options.param as string[]).filter((entry) => !entry.startsWith(`${param}=`));
      const { problems } = await configFromAddOptions(
        id,
        { ...options, param: [...others, `${param}=${paramArgument(wrong)}`] },
        "/",
        {},
      );
      const where = `params.${param} = ${JSON.stringify(wrong)}`;
      expect(problems.length, where).toBeGreaterThan(0);
      for (const problem of problems) {
        expect(problem.attribute, where).toMatch(new RegExp(`^params\\.${param}(?:$|[.[])`));
        // One message in words (the check's own `must(...)`), not zod's generic "Invalid input".
        expect(problem.message, where).not.toMatch(/^Invalid input|^Invalid option|expected \w+, received/);
      }
    }
    // Only a param that accepts any JSON value (z.unknown()) has no wrong type to try.
    expect(tested).toBeGreaterThan(0);
  });

  it.each(registered)("refuses %s without a required param, naming it", async (_name, check) => {
    const required = describeParams(check).filter((param) => param.required);
    for (const param of required) {
      const { id, options } = addOptions(exampleAddArgs(check) as string[]);
      const others = (options.param as string[]).filter((entry) => !entry.startsWith(`${param.name}=`));
      const { problems } = await configFromAddOptions(id, { ...options, param: others }, "/", {});
      expect(problems, `params.${param.name} left out`).toEqual([
        { attribute: `params.${param.name}`, message: "is required" },
      ]);
    }
  });

  it("refuses a param no check knows, naming it", async () => {
    for (const check of checks.values()) {
      const { id, options } = addOptions(exampleAddArgs(check) as string[]);
      const { problems } = await configFromAddOptions(
        id,
        { ...options, param: [...(options.param as string[]), "noSuchParam=1"] },
        "/",
        {},
      );
      expect(problems, check.name).toEqual([
        { attribute: "params.noSuchParam", message: "is not a known parameter" },
      ]);
    }
  });
});
