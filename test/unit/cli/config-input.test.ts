import { describe, expect, it } from "vitest";
import { ConfigFieldSchemas } from "#core/schemas.ts";
import { checks } from "#monitors/index.ts";
import {
  applyChanges,
  attributeKind,
  CONFIG_ATTRIBUTES,
  parseAttributeValue,
  parseChanges,
  parseParams,
  parseParamValue,
  validateConfigItem,
} from "../../../cli/config-input.ts";

const valid = { name: "API", check: "http", params: { url: "https://example.org" } };

describe("typed --set values", () => {
  it("knows every attribute the orchestrator validates", () => {
    expect(CONFIG_ATTRIBUTES.sort()).toEqual(Object.keys(ConfigFieldSchemas).sort());
  });

  it("types values by attribute", () => {
    expect(attributeKind("name")).toBe("string");
    expect(attributeKind("requiredConsecutiveOks")).toBe("number");
    expect(attributeKind("isActive")).toBe("boolean");
    expect(attributeKind("peopleToNotify")).toBe("list");
    expect(attributeKind("params")).toBe("map");
    expect(parseAttributeValue("requiredConsecutiveOks", "3")).toEqual({ ok: true, value: 3 });
    expect(parseAttributeValue("checkTimeoutSeconds", "2.5")).toEqual({ ok: true, value: 2.5 });
    expect(parseAttributeValue("isActive", "false")).toEqual({ ok: true, value: false });
    expect(parseAttributeValue("skipSupersededTicks", "Yes")).toEqual({ ok: true, value: true });
    expect(parseAttributeValue("peopleToNotify", "a@x.org, b@y.org,")).toEqual({
      ok: true,
      value: ["a@x.org", "b@y.org"],
    });
    expect(parseAttributeValue("peopleToNotify", '["a@x.org"]')).toEqual({ ok: true, value: ["a@x.org"] });
    expect(parseAttributeValue("peopleToNotify", "")).toEqual({ ok: true, value: [] });
    expect(parseAttributeValue("params", '{"url":"https://x.org","expectedStatus":200}')).toEqual({
      ok: true,
      value: { url: "https://x.org", expectedStatus: 200 },
    });
    expect(parseAttributeValue("schedule", "rate(5 minutes)")).toEqual({
      ok: true,
      value: "rate(5 minutes)",
    });
  });

  it("refuses values of the wrong type with a message that shows the input", () => {
    expect(parseAttributeValue("requiredConsecutiveOks", "three")).toEqual({
      ok: false,
      message: 'expects a number, got "three"',
    });
    expect(parseAttributeValue("requiredConsecutiveOks", "")).toMatchObject({ ok: false });
    expect(parseAttributeValue("isActive", "maybe")).toMatchObject({
      ok: false,
      message: expect.stringContaining("true or false"),
    });
    expect(parseAttributeValue("params", "[1]")).toMatchObject({
      ok: false,
      message: expect.stringContaining("JSON object"),
    });
    expect(parseAttributeValue("params", "{oops")).toMatchObject({
      ok: false,
      message: expect.stringContaining("not valid JSON"),
    });
  });

  it("types params values as JSON when they read as JSON, else keeps the text", () => {
    expect(parseParamValue("200")).toBe(200);
    expect(parseParamValue("true")).toBe(true);
    expect(parseParamValue('"200"')).toBe("200");
    expect(parseParamValue('["a","b"]')).toEqual(["a", "b"]);
    expect(parseParamValue("https://example.org/health?x=1")).toBe("https://example.org/health?x=1");
    expect(parseParamValue("007")).toBe("007");
    expect(parseParamValue("trueish")).toBe("trueish");
  });
});

describe("--set / --unset / --param parsing", () => {
  it("splits at the first = and collects one problem per bad entry", () => {
    const changes = parseChanges(
      ["schedule=cron(0 8 * * ? *)", "params.query=a=b", "requiredConsecutiveOks=x", "nmae=API", "oops"],
      ["timezone", "params.old", "bogus"],
    );
    expect(changes.set).toEqual({ schedule: "cron(0 8 * * ? *)" });
    expect(changes.params).toEqual({ query: "a=b", old: undefined });
    expect(changes.unset).toEqual(["timezone"]);
    expect(changes.problems.map((problem) => problem.attribute)).toEqual([
      "requiredConsecutiveOks",
      "nmae",
      "oops",
      "bogus",
    ]);
    expect(changes.problems[1]?.message).toContain("did you mean name?");
  });

  it("applies changes without touching other attributes, merging params", () => {
    const current = { ...valid, timezone: "UTC", params: { url: "https://a.org", old: 1 } };
    const next = applyChanges(
      current,
      parseChanges(["params.maxLatencyMs=500", "name=New"], ["timezone", "params.old"]),
    );
    expect(next).toEqual({ name: "New", check: "http", params: { url: "https://a.org", maxLatencyMs: 500 } });
    expect(current.params).toEqual({ url: "https://a.org", old: 1 });
  });

  it("parses --param entries", () => {
    expect(parseParams(["url=https://x.org", "expectedStatus=200"])).toEqual({
      params: { url: "https://x.org", expectedStatus: 200 },
      problems: [],
    });
    expect(parseParams(["novalue"]).problems).toHaveLength(1);
  });
});

describe("validateConfigItem", () => {
  it("accepts a valid item", () => {
    expect(validateConfigItem("api", valid)).toEqual([]);
  });

  it("validates params with the check's own schema before the first run", () => {
    const problems = validateConfigItem("api", {
      name: "API",
      check: "http",
      params: { url: "ftp://example.org", maxLatencyMs: "fast", retries: 3 },
    });
    expect(problems.map((problem) => problem.attribute).sort()).toEqual([
      "params.maxLatencyMs",
      "params.retries",
      "params.url",
    ]);
    expect(validateConfigItem("m", { name: "M", check: "manual" })).toEqual([
      { attribute: "params.isOk", message: "is required (true or false)" },
    ]);
  });

  it("reports one problem per bad attribute, with the orchestrator's messages", () => {
    const problems = validateConfigItem("bad id!", {
      check: "nope",
      schedule: "rate(5 minute)",
      timezone: "Mars/Olympus",
      requiredConsecutiveOks: 0,
      peopleToNotify: ["ok@example.org", "not-an-email"],
      colour: "blue",
    });
    const byAttribute = Object.fromEntries(problems.map((problem) => [problem.attribute, problem.message]));
    expect(Object.keys(byAttribute).sort()).toEqual(
      [
        "check",
        "colour",
        "monitorId",
        "name",
        "peopleToNotify[1]",
        "requiredConsecutiveOks",
        "schedule",
        "timezone",
      ].sort(),
    );
    expect(byAttribute.name).toBe("is required");
    expect(byAttribute.check).toContain(
      `not a registered check (known: ${[...checks.keys()].sort().join(", ")})`,
    );
    expect(byAttribute.schedule).toContain('use the plural unit for values above 1: "rate(5 minutes)"');
    expect(byAttribute.timezone).toContain("IANA timezone");
    expect(byAttribute["peopleToNotify[1]"]).toContain('"not-an-email" is not a valid email address');
    expect(byAttribute.colour).toContain("is not a config attribute");
  });

  it("ignores the key attributes of a stored item", () => {
    expect(validateConfigItem("api", { ...valid, monitorId: "api", record: "config" })).toEqual([]);
  });
});
