import { describe, expect, it } from "vitest";
import { parseConfigLeniently } from "#core/schemas.ts";
import { html, join } from "#core/web-html.ts";
import {
  type MonitorSummary,
  mailOutcome,
  monitorPage,
  overviewPage,
  overviewRow,
  signInPage,
  sortRows,
} from "#core/web-pages.ts";
import { createAuthorizer } from "../../functions/web/authorizer.ts";

/** The dashboard's pure parts: escaping by construction, the view model, page size, the authorizer. */

const NOW = new Date("2026-03-01T12:00:00.000Z");

function monitor(monitorId: string, attributes: Record<string, unknown>, state?: Record<string, unknown>) {
  const { config } = parseConfigLeniently(monitorId, {
    check: "http",
    schedule: "rate(5 minutes)",
    peopleToNotify: ["a@example.org"],
    ...attributes,
  });
  return { monitorId, config, state } satisfies MonitorSummary;
}

describe("html", () => {
  it("escapes every interpolated value, nested lists included, and nothing it built itself", () => {
    const evil = `<script>alert("x")</script>' onmouseover='x`;
    const out = html`<p title="${evil}">${evil}${[evil, html`<b>${evil}</b>`]}</p>`.value;
    expect(out).not.toMatch(/<script>|onmouseover='/);
    expect(out).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;x");
    expect(out).toContain("<b>&lt;script&gt;");
    expect(join(["<i>", html`<i>`]).value).toBe("&lt;i&gt;<i>");
  });
});

describe("pages", () => {
  it("puts alerts first, unacknowledged before acknowledged, and says who acked", () => {
    const rows = sortRows(
      [
        monitor("b-ok", { name: "B" }, { state: "ok", lastRunDt: "2026-03-01T11:58:00.000Z" }),
        monitor(
          "c-acked",
          { name: "C" },
          { state: "alert", incident: { start: "2026-03-01T11:00:00.000Z" }, ack: { by: "alice", at: "x" } },
        ),
        monitor(
          "d-alert",
          { name: "D" },
          { state: "alert", incident: { start: "2026-03-01T11:30:00.000Z" } },
        ),
        monitor("a-paused", { name: "A", isActive: false }, { state: "alert" }),
      ].map((summary) => overviewRow(summary, NOW)),
    );
    expect(rows.map((row) => [row.monitorId, row.state, row.ackBy])).toEqual([
      ["d-alert", "alert", undefined],
      ["c-acked", "alert", "alice"],
      ["b-ok", "ok", undefined],
      ["a-paused", "paused", undefined],
    ]);
    expect(rows[0]?.since).toBe("2026-03-01T11:30:00.000Z");
    expect(rows[2]?.nextRun && Date.parse(rows[2].nextRun) > NOW.getTime()).toBe(true);
  });

  it("keeps an expired ack out of the overview", () => {
    const row = overviewRow(
      monitor("m", {}, { state: "alert", ack: { by: "bob", at: "x", until: "2026-03-01T11:00:00.000Z" } }),
      NOW,
    );
    expect(row.ackBy).toBeUndefined();
  });

  it("renders 1,000 monitors in under 200 KB", () => {
    const rows = Array.from({ length: 1_000 }, (_, index) =>
      overviewRow(
        monitor(
          `monitor-${String(index).padStart(4, "0")}`,
          { name: `Orders feed ${index} (EU)` },
          index % 20 === 0
            ? {
                state: "alert",
                lastRunDt: "2026-03-01T11:58:00.000Z",
                lastResultOk: false,
                lastResultMessage: "HTTP 503 from https://example.org/health: upstream timed out",
                incident: { start: "2026-03-01T11:00:00.000Z" },
              }
            : { state: "ok", lastRunDt: "2026-03-01T11:58:00.000Z", lastResultOk: true },
        ),
        NOW,
      ),
    );
    const bytes = Buffer.byteLength(overviewPage({ now: NOW, user: "u", csrf: "c" }, sortRows(rows)));
    expect(bytes).toBeLessThan(200 * 1024);
  });

  it("says why a run did or did not send mail", () => {
    const run = { scheduledTime: "t1", notification: "alert", isOk: false };
    expect(mailOutcome(run, [])).toBe("ALERT decided, delivery pending");
    expect(
      mailOutcome(run, [{ tickTime: "t1", type: "alert", outcome: "delivered", recipients: ["a", "b"] }]),
    ).toBe("ALERT sent to 2 recipients");
    expect(
      mailOutcome(run, [{ tickTime: "t1", type: "alert", outcome: "abandoned", error: "sandbox" }]),
    ).toBe("ALERT abandoned: sandbox");
    expect(mailOutcome({ scheduledTime: "t2", quietReason: "acknowledged" }, [])).toBe(
      "no mail: the incident is acknowledged",
    );
    expect(mailOutcome({ kind: "summary", count: 14 }, [])).toBe("14 quiet OK runs (no mail)");
  });

  it("offers unack instead of ack once acknowledged, and a CSRF token in every form", () => {
    const summary = monitor(
      "m",
      {},
      { state: "alert", incident: { start: "2026-03-01T11:00:00.000Z" }, ack: { by: "alice", at: "x" } },
    );
    const page = monitorPage(
      { now: NOW, user: "alice", csrf: "tok" },
      { summary, runs: [], notifications: [], incidents: [] },
    );
    expect(page).toContain('action="/monitors/m/unack"');
    expect(page).not.toContain('action="/monitors/m/ack"');
    const forms = page.match(/<form method="post"/g)?.length ?? 0;
    expect(page.match(/name="csrf" value="tok"/g)?.length).toBe(forms);
  });

  it("never puts a password into the sign-in page", () => {
    const page = signInPage(
      { now: NOW },
      { kind: "password", username: "alice" },
      "Wrong user name or password.",
    );
    expect(page).toContain('value="alice"');
    expect(page).toMatch(/<input type="password" name="password"[^>]*required>/);
  });
});

describe("authorizer", () => {
  const authorize = createAuthorizer({
    verify: async (token) => {
      if (token !== "good") throw new Error("invalid");
      return { username: "alice", sub: "s", exp: 0 };
    },
  });

  it("allows a verified session cookie and refuses a missing, another or a forged one", async () => {
    await expect(authorize({ cookies: ["a=b", "__Host-wk_at=good"], headers: {} })).resolves.toEqual({
      isAuthorized: true,
      context: { username: "alice" },
    });
    await expect(authorize({ cookies: ["__Host-wk_at=bad"], headers: {} })).resolves.toEqual({
      isAuthorized: false,
    });
    await expect(authorize({ cookies: ["wk_at=good"], headers: {} })).resolves.toEqual({
      isAuthorized: false,
    });
    await expect(authorize({ cookies: [], headers: {} })).resolves.toEqual({ isAuthorized: false });
    await expect(authorize({ cookies: ["__Host-wk_rt="], headers: {} })).resolves.toEqual({
      isAuthorized: false,
    });
  });

  it("lets a session whose access token expired (the browser dropped it) through to be refreshed", async () => {
    // What a browser holds an hour after sign-in: the refresh and CSRF cookies only.
    await expect(
      authorize({ cookies: ["__Host-wk_rt=refresh-token", "__Host-wk_csrf=c"], headers: {} }),
    ).resolves.toEqual({ isAuthorized: true });
    await expect(
      authorize({ cookies: ["__Host-wk_at=expired", "__Host-wk_rt=refresh-token"], headers: {} }),
    ).resolves.toEqual({ isAuthorized: true });
  });
});
