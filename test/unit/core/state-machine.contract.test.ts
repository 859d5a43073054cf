import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { NotificationType } from "#core/schemas.ts";
import { decide, type MachineState } from "#core/state-machine.ts";

/** The shared contract (DESIGN.md §4): every vector must pass, and the file must be there. */
interface ContractTick {
  at: string;
  isOk: boolean;
  expect: { state: "ok" | "alert"; consecutiveOkCount: number; notification: NotificationType | null };
}
interface ContractCase {
  name: string;
  initial?: MachineState | null;
  config?: { requiredConsecutiveOks?: number; reminderFrequencyMinutes?: number };
  ticks: ContractTick[];
}
// The project's own copy, so that a plain clone tests alone; it must equal the shared contract
// whenever that sits beside the repository (../shared, as in CI and development).
const contractUrl = new URL("../../../contract/state-machine.json", import.meta.url);
const sharedUrl = new URL("../../../../shared/contract/state-machine.json", import.meta.url);
const contract = JSON.parse(readFileSync(contractUrl, "utf8")) as {
  defaults: { requiredConsecutiveOks: number; reminderFrequencyMinutes: number };
  cases: ContractCase[];
};

describe("state machine contract vectors (shared/contract/state-machine.json)", () => {
  it("has vectors to run", () => {
    expect(contract.cases.length).toBeGreaterThanOrEqual(10);
  });

  it.runIf(existsSync(sharedUrl))("keeps its copy equal to ../shared/contract/state-machine.json", () => {
    expect(JSON.parse(readFileSync(contractUrl, "utf8"))).toEqual(
      JSON.parse(readFileSync(sharedUrl, "utf8")),
    );
  });

  it.each(contract.cases.map((contractCase) => [contractCase.name, contractCase] as const))(
    "%s",
    (_name, vector) => {
      const config = { ...contract.defaults, ...vector.config };
      let state: MachineState | undefined = vector.initial ?? undefined;
      for (const [index, tick] of vector.ticks.entries()) {
        const decision = decide(state, tick.isOk, tick.at, config);
        expect(
          {
            state: decision.next.state,
            consecutiveOkCount: decision.next.consecutiveOkCount,
            notification: decision.notification,
          },
          `tick ${index} at ${tick.at}`,
        ).toEqual(tick.expect);
        state = decision.next;
      }
    },
  );
});
