import { describe, expect, it } from "vitest";
import { retryDelaySeconds } from "#adapters/sqs-retry-delay.ts";

describe("retryDelaySeconds", () => {
  it("doubles from the base with each receive and caps at 15 minutes", () => {
    expect([1, 2, 3, 4, 5, 6].map((count) => retryDelaySeconds(count, 30))).toEqual([
      30, 60, 120, 240, 480, 900,
    ]);
    expect(retryDelaySeconds(1_000, 30)).toBe(900);
  });

  it("treats a missing or odd receive count as the first receive", () => {
    expect(retryDelaySeconds(Number.NaN, 30)).toBe(30);
    expect(retryDelaySeconds(0, 30)).toBe(30);
  });
});
