import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { notificationLinksFromEnv, SecretsManagerAckLinkKeys } from "#adapters/ack-link-keys.ts";
import {
  AckLinks,
  DEFAULT_ACK_LINK_TTL_MS,
  signAckToken,
  verifyAckLink,
  verifyAckToken,
} from "#core/ack-link.ts";

const NOW = new Date("2026-03-01T06:00:00.000Z");
const CLAIMS = {
  monitorId: "compass-po",
  incident: "2026-03-01T05:40:00.000Z",
  recipient: "ops@example.com",
  expiresAt: NOW.getTime() + 60_000,
};

const flip = (text: string, index: number) =>
  `${text.slice(0, index)}${text[index] === "A" ? "B" : "A"}${text.slice(index + 1)}`;

describe("ack tokens", () => {
  it("round-trips the claims it was signed with", () => {
    const token = signAckToken(CLAIMS, "k1");
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(verifyAckToken(token, { current: "k1" }, NOW)).toEqual({ ok: true, claims: CLAIMS });
  });

  it("still verifies with the previous key after a rotation, and not after a second one", () => {
    const token = signAckToken(CLAIMS, "old");
    expect(verifyAckToken(token, { current: "new", previous: "old" }, NOW).ok).toBe(true);
    expect(verifyAckToken(token, { current: "newer", previous: "new" }, NOW)).toMatchObject({
      ok: false,
      reason: "bad-signature",
    });
  });

  it("refuses a changed payload or signature, and a token of another key", () => {
    const token = signAckToken(CLAIMS, "k1");
    const [payload = "", signature = ""] = token.split(".");
    // Another recipient under the same signature.
    const forged = Buffer.from(
      JSON.stringify({ p: "ack", m: CLAIMS.monitorId, i: CLAIMS.incident, r: "eve@example.com", e: 9e15 }),
    ).toString("base64url");
    for (const bad of [`${forged}.${signature}`, `${payload}.${flip(signature, 3)}`, flip(token, 5)]) {
      expect(verifyAckToken(bad, { current: "k1" }, NOW)).toMatchObject({
        ok: false,
        reason: "bad-signature",
      });
    }
    expect(verifyAckToken(token, { current: "k2" }, NOW)).toMatchObject({ reason: "bad-signature" });
  });

  it("says expired at and after its expiry", () => {
    const token = signAckToken(CLAIMS, "k1");
    const later = new Date(CLAIMS.expiresAt);
    expect(verifyAckToken(token, { current: "k1" }, later)).toMatchObject({ ok: false, reason: "expired" });
    expect(verifyAckToken(token, { current: "k1" }, new Date(CLAIMS.expiresAt - 1)).ok).toBe(true);
  });

  it("says malformed for what is not a token, and refuses another purpose even when signed", () => {
    for (const bad of [undefined, "", "abc", "a.b.c", "!!.??", "x".repeat(5000)]) {
      expect(verifyAckToken(bad, { current: "k1" }, NOW)).toMatchObject({ ok: false, reason: "malformed" });
    }
    const payload = Buffer.from(
      JSON.stringify({ p: "unsubscribe", m: "a", i: "b", r: "c", e: 9e15 }),
    ).toString("base64url");
    const signature = createHmac("sha256", "k1").update(payload).digest("base64url");
    expect(verifyAckToken(`${payload}.${signature}`, { current: "k1" }, NOW)).toMatchObject({
      reason: "malformed",
    });
  });
});

describe("AckLinks (NotificationLinks)", () => {
  it("builds an ack URL under the dashboard whose token verifies for that recipient, and the monitor's page", async () => {
    const links = new AckLinks({
      dashboardUrl: "https://dash.example.org/prod",
      keys: { keys: async () => ({ current: "k1" }) },
      clock: () => NOW,
    });
    const url = new URL(
      (await links.ackUrl({ monitorId: "a b", incident: CLAIMS.incident, recipient: "x@example.org" })) ?? "",
    );
    expect(url.origin + url.pathname).toBe("https://dash.example.org/prod/ack");
    const verified = verifyAckToken(url.searchParams.get("t"), { current: "k1" }, NOW);
    expect(verified).toEqual({
      ok: true,
      claims: {
        monitorId: "a b",
        incident: CLAIMS.incident,
        recipient: "x@example.org",
        expiresAt: NOW.getTime() + DEFAULT_ACK_LINK_TTL_MS,
      },
    });
    expect(links.dashboardUrl("a b")).toBe("https://dash.example.org/prod/monitors/a%20b");
  });
});

describe("Secrets Manager key ring", () => {
  it("reads AWSCURRENT and AWSPREVIOUS once per cache period, and tolerates no previous version", async () => {
    const calls: string[] = [];
    let now = 0;
    let hasPrevious = false;
    const keys = new SecretsManagerAckLinkKeys({
      secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:links-AbCdEf",
      clock: () => now,
      reader: {
        async getSecretValue(input) {
          calls.push(String(input.VersionStage));
          if (input.VersionStage === "AWSPREVIOUS" && !hasPrevious) {
            throw Object.assign(new Error("no such version"), { name: "ResourceNotFoundException" });
          }
          return { SecretString: input.VersionStage === "AWSCURRENT" ? "cur" : "prev" };
        },
      },
    });
    expect(await keys.keys()).toEqual({ current: "cur" });
    expect(await keys.keys()).toEqual({ current: "cur" });
    expect(calls).toEqual(["AWSCURRENT", "AWSPREVIOUS"]);
    hasPrevious = true;
    now = 5 * 60_000;
    expect(await keys.keys()).toEqual({ current: "cur", previous: "prev" });
    expect(calls).toHaveLength(4);
  });

  it("reads past its cache for a link that failed to verify, at most once a minute", async () => {
    let now = 0;
    let current = "k1";
    let reads = 0;
    const keys = new SecretsManagerAckLinkKeys({
      secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:links-AbCdEf",
      clock: () => now,
      reader: {
        async getSecretValue(input) {
          if (input.VersionStage === "AWSPREVIOUS") {
            throw Object.assign(new Error("no such version"), { name: "ResourceNotFoundException" });
          }
          reads += 1;
          return { SecretString: current };
        },
      },
    });
    expect(await keys.keys()).toEqual({ current: "k1" });
    current = "k2"; // rotated; the orchestrator already signs with k2
    now = 30_000;
    expect(await keys.keys({ fresh: true })).toEqual({ current: "k1" }); // within a minute: cached
    now = 61_000;
    expect(await keys.keys({ fresh: true })).toEqual({ current: "k2" });
    expect(reads).toBe(2);
  });

  it("accepts a link signed with a key rotated in after the ring was cached, and still refuses a forged one", async () => {
    const rings = { cached: { current: "k1" }, fresh: { current: "k2", previous: "k1" } };
    const asked: string[] = [];
    const source = {
      keys: async (options?: { fresh?: boolean }) => {
        asked.push(options?.fresh ? "fresh" : "cached");
        return options?.fresh ? rings.fresh : rings.cached;
      },
    };
    const token = signAckToken(CLAIMS, "k2");
    expect(await verifyAckLink(token, source, NOW)).toEqual({ ok: true, claims: CLAIMS });
    expect(asked).toEqual(["cached", "fresh"]);
    expect(await verifyAckLink(signAckToken(CLAIMS, "forged"), source, NOW)).toMatchObject({
      ok: false,
      reason: "bad-signature",
    });
    asked.length = 0;
    // Expired or malformed links never cost a read past the cache.
    await verifyAckLink(signAckToken({ ...CLAIMS, expiresAt: NOW.getTime() - 1 }, "k1"), source, NOW);
    await verifyAckLink("not a token", source, NOW);
    expect(asked).toEqual(["cached", "cached"]);
  });

  it("makes no links without both env vars", () => {
    expect(notificationLinksFromEnv({ DASHBOARD_URL: "https://x.example" })).toBeUndefined();
    expect(notificationLinksFromEnv({ ACK_LINK_SECRET_ARN: "arn:aws:secretsmanager:x" })).toBeUndefined();
    const links = notificationLinksFromEnv({
      DASHBOARD_URL: "https://x.example/",
      ACK_LINK_SECRET_ARN: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:l",
    });
    expect(links?.dashboardUrl("m")).toBe("https://x.example/monitors/m");
  });

  it("signs with the local run's key under npm start, for as long as ACK_LINK_TTL_HOURS says", async () => {
    const links = notificationLinksFromEnv({
      DASHBOARD_URL: "http://127.0.0.1:8020/",
      WATCHKEEPER_LOCAL_ACK_LINK_KEY: "local-key",
      ACK_LINK_TTL_HOURS: "2",
    });
    const url = new URL((await links?.ackUrl({ monitorId: "m", incident: "i", recipient: "r" })) ?? "");
    const verified = verifyAckToken(url.searchParams.get("t"), { current: "local-key" }, new Date());
    expect(verified.ok && verified.claims.expiresAt - Date.now()).toBeGreaterThan(7_100_000);
    expect(verified.ok && verified.claims.expiresAt - Date.now()).toBeLessThanOrEqual(7_200_000);
  });
});
