import { describe, expect, it } from "vitest";
import { parseConfigLeniently } from "#core/schemas.ts";

/** Issue 10, items 5 and 6: what people type in the DynamoDB console is read as they meant it. */
describe("console slips in config items", () => {
  const base = { name: "M", check: "manual" };

  it.each([
    ["true", true],
    ["false", false],
    [" FALSE ", false],
    ["True", true],
  ])("reads isActive %j as %j without a problem", (value, expected) => {
    const { config, problems } = parseConfigLeniently("m", { ...base, isActive: value });
    expect(problems).toEqual([]);
    expect(config.isActive).toBe(expected);
  });

  it.each(["yes", "0", "off", ""])(
    "reports isActive %j instead of silently treating it as active",
    (value) => {
      const { config, problems } = parseConfigLeniently("m", { ...base, isActive: value });
      expect(problems.map((problem) => problem.attribute)).toEqual(["isActive"]);
      expect(problems[0]?.message).toContain(JSON.stringify(value));
      // Monitoring goes on (the safe side), and the problem is on record for the operators.
      expect(config.isActive).toBe(true);
    },
  );

  it("reads numbers typed as strings", () => {
    const { config, problems } = parseConfigLeniently("m", {
      ...base,
      requiredConsecutiveOks: "3",
      reminderFrequencyMinutes: " 15 ",
      checkTimeoutSeconds: "2.5",
      historyRetentionDays: "30",
    });
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      requiredConsecutiveOks: 3,
      reminderFrequencyMinutes: 15,
      checkTimeoutSeconds: 2.5,
      historyRetentionDays: 30,
    });
  });

  it("still refuses words where numbers belong", () => {
    const { config, problems } = parseConfigLeniently("m", { ...base, requiredConsecutiveOks: "two" });
    expect(problems.map((problem) => problem.attribute)).toEqual(["requiredConsecutiveOks"]);
    expect(config.requiredConsecutiveOks).toBe(2);
  });

  it("removes duplicate recipients case-insensitively, keeping the first spelling", () => {
    const { config, problems } = parseConfigLeniently("m", {
      ...base,
      peopleToNotify: ["Ops@Example.com", "ops@example.com", "dev@example.com", "OPS@EXAMPLE.COM"],
    });
    expect(problems).toEqual([]);
    expect(config.peopleToNotify).toEqual(["Ops@Example.com", "dev@example.com"]);
  });
});
