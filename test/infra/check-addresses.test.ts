import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHECK_ADDRESS_KINDS, parseSettings, WatchkeeperConfigError } from "../../lib/settings.ts";
import { ADDRESS_KINDS, CHECK_ALLOW_ADDRESSES } from "../../monitors/support/addresses.ts";
import { type SynthesizedWatchkeeper, synthWatchkeeper } from "../support/cdk.ts";

/**
 * The stack setting checkAllowAddresses: the ceiling of what monitors' allowAddresses may open,
 * set by the deployer, never by whoever writes a config item.
 */

function orchestratorVariables(synthesized: SynthesizedWatchkeeper): Record<string, unknown> {
  const functions = synthesized.template.findResources("AWS::Lambda::Function");
  const orchestrator = Object.entries(functions).find(([, fn]) =>
    String(fn.Metadata?.["aws:cdk:path"] ?? "").includes("Orchestrator/Lambda/Function"),
  )?.[1];
  return orchestrator?.Properties?.Environment?.Variables ?? {};
}

describe("checkAllowAddresses", () => {
  it("names the kinds of the checks' address policy", () => {
    expect([...CHECK_ADDRESS_KINDS]).toEqual([...ADDRESS_KINDS]);
  });

  it("is empty by default and takes a comma-separated list or a list", () => {
    expect(parseSettings({}).checkAllowAddresses).toEqual([]);
    expect(parseSettings({ checkAllowAddresses: " loopback,metadata,loopback" }).checkAllowAddresses).toEqual(
      ["loopback", "metadata"],
    );
    expect(parseSettings({ checkAllowAddresses: ["link-local"] }).checkAllowAddresses).toEqual([
      "link-local",
    ]);
  });

  it("refuses anything else", () => {
    const attempt = () => parseSettings({ checkAllowAddresses: "loopback,private" });
    expect(attempt).toThrow(WatchkeeperConfigError);
    expect(attempt).toThrow('must list "loopback", "link-local" or "metadata"');
  });
});

describe("the orchestrator's environment", () => {
  let plain: SynthesizedWatchkeeper;
  let open: SynthesizedWatchkeeper;
  beforeAll(() => {
    plain = synthWatchkeeper({ senderEmail: "alerts@example.org", operatorEmail: "ops@example.org" });
    open = synthWatchkeeper({
      senderEmail: "alerts@example.org",
      operatorEmail: "ops@example.org",
      checkAllowAddresses: "loopback,link-local",
    });
  });
  afterAll(() => {
    plain?.cleanup();
    open?.cleanup();
  });

  it("carries no ceiling by default: every monitor's allowAddresses is refused", () => {
    expect(orchestratorVariables(plain)).not.toHaveProperty(CHECK_ALLOW_ADDRESSES);
  });

  it("carries the kinds the deployer listed", () => {
    expect(orchestratorVariables(open)).toMatchObject({ [CHECK_ALLOW_ADDRESSES]: "loopback,link-local" });
  });
});
