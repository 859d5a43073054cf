import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type AddressKind,
  allowedAddressKinds,
  CHECK_ALLOW_ADDRESSES,
  classifyAddress,
  operatorAddressKinds,
  refusal,
} from "#monitors/support/addresses.ts";

const kind = (address: string) => classifyAddress(address)?.kind;

afterEach(() => vi.unstubAllEnvs());

describe("classifyAddress", () => {
  it.each<[string, AddressKind]>([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["0.0.0.0", "loopback"],
    ["0.1.2.3", "loopback"],
    ["::1", "loopback"],
    ["::", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["169.254.0.1", "link-local"],
    ["169.254.255.255", "link-local"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["169.254.169.254", "metadata"],
    ["169.254.170.2", "metadata"],
    ["169.254.170.23", "metadata"],
    ["100.100.100.200", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["FD00:EC2:0:0:0:0:0:254", "metadata"],
    ["fd00:ec2::23", "metadata"],
    // IPv4 in IPv6 clothing: mapped, translated (SIIT), compatible and NAT64 forms.
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["[::ffff:7f00:1]", "loopback"],
    ["::ffff:0.0.0.0", "loopback"],
    ["::ffff:169.254.169.254", "metadata"],
    ["::ffff:a9fe:a9fe", "metadata"],
    ["::ffff:169.254.3.4", "link-local"],
    ["::ffff:0:127.0.0.1", "loopback"],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::169.254.169.254", "metadata"],
    ["64:ff9b:1::7f00:1", "loopback"],
  ])("%s is %s", (address, expected) => {
    expect(kind(address)).toBe(expected);
  });

  it.each([
    "8.8.8.8",
    "93.184.216.34",
    "10.0.0.1", // private ranges are allowed: see docs/checks.md
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "169.253.255.255",
    "169.255.0.0",
    "126.255.255.255",
    "128.0.0.1",
    "1.0.0.0",
    "2001:db8::1",
    "2606:4700::1111",
    "fd00::1",
    "fd00:ec2::253:1",
    "fec0::1",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "example.com",
    "",
  ])("%s is not refused", (address) => {
    expect(classifyAddress(address)).toBeUndefined();
  });

  it("describes what the address is in words", () => {
    expect(classifyAddress("127.0.0.1")?.description).toBe("a loopback address");
    expect(classifyAddress("0.0.0.0")?.description).toBe("the unspecified address (it reaches this host)");
    expect(classifyAddress("fe80::1")?.description).toBe("a link-local address");
    expect(classifyAddress("169.254.170.2")?.description).toBe(
      "the ECS task metadata and credentials endpoint",
    );
    expect(classifyAddress("::ffff:7f00:1")?.description).toBe(
      "a loopback address (127.0.0.1 written as IPv6)",
    );
  });
});

describe("refusal", () => {
  it("names the host, the address, what it is and the param that allows it", () => {
    expect(refusal("localhost", "::1", new Set())).toBe(
      'refused to connect to localhost (::1), a loopback address (params.allowAddresses ["loopback"] allows it)',
    );
    expect(refusal("169.254.169.254", "169.254.169.254", new Set(["link-local"]))).toBe(
      'refused to connect to 169.254.169.254, the cloud instance metadata service (params.allowAddresses ["metadata"] allows it)',
    );
  });

  it("says the stack setting is needed when the operator allows the kind to no monitor", () => {
    vi.stubEnv(CHECK_ALLOW_ADDRESSES, "metadata");
    expect(refusal("localhost", "127.0.0.1", new Set())).toBe(
      'refused to connect to localhost (127.0.0.1), a loopback address (only when the stack setting checkAllowAddresses names "loopback" and params.allowAddresses too)',
    );
  });

  it("lets an allowed kind through, and only that kind", () => {
    expect(refusal("localhost", "127.0.0.1", new Set(["loopback"]))).toBeUndefined();
    expect(refusal("x", "169.254.169.254", new Set(["loopback", "link-local"]))).toBeDefined();
    expect(refusal("x", "169.254.169.254", new Set(["metadata"]))).toBeUndefined();
    expect(refusal("x", "8.8.8.8", new Set())).toBeUndefined();
  });
});

describe("the operator's ceiling (CHECK_ALLOW_ADDRESSES, stack setting checkAllowAddresses)", () => {
  it("lets a monitor's params open only what the operator allows: a param narrows, never widens", () => {
    vi.stubEnv(CHECK_ALLOW_ADDRESSES, "");
    expect([...allowedAddressKinds(["loopback", "metadata"])]).toEqual([]);
    vi.stubEnv(CHECK_ALLOW_ADDRESSES, "loopback");
    expect([...allowedAddressKinds(["loopback", "metadata"])]).toEqual(["loopback"]);
    expect([...allowedAddressKinds(undefined)]).toEqual([]);
    vi.stubEnv(CHECK_ALLOW_ADDRESSES, " loopback , metadata ");
    expect([...allowedAddressKinds(["metadata"])]).toEqual(["metadata"]);
  });

  it("refuses an unknown kind in the variable rather than lapse", () => {
    vi.stubEnv(CHECK_ALLOW_ADDRESSES, "loopback,everything");
    expect(() => operatorAddressKinds()).toThrow('CHECK_ALLOW_ADDRESSES: "everything" is not one of');
  });
});
