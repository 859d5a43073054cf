import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDashboardStore } from "#adapters/dashboard-store.ts";
import { signAckToken } from "#core/ack-link.ts";
import { type CapturedEmail, capturedEmails } from "../support/aws.ts";
import { launchBrowser, saveScreenshot } from "../support/browser.ts";
import { eventually, schedulerTime, startTestRuntime, type TestRuntime } from "./support/runtime.ts";

/**
 * The dashboard in a real browser (Chromium from @sparticuz/chromium, driven by playwright-core)
 * against the local runtime: sign in through the form on cognito-local, see a failing monitor,
 * ack it from its page, open a signed ack link and confirm it, and a monitor named `<script>`
 * that stays text. No sleeps: every wait is on a selector, a URL or the table. Contexts are left to
 * the browser's close: @sparticuz/chromium runs --single-process, where closing the last context
 * ends the browser.
 */

const XSS_NAME = "<script>window.__pwned = 1</script><img src=x onerror=window.__pwned=2>";

let env: TestRuntime;
let browser: Browser;
let closeBrowser: () => Promise<void>;

async function putMonitor(monitorId: string, name: string, isOk: boolean) {
  await env.doc.send(
    new PutCommand({
      TableName: env.runtime.endpoints.tableName,
      Item: {
        monitorId,
        record: "config",
        name,
        check: "manual",
        params: { isOk, message: isOk ? "all fine" : "no orders file since 06:00 (expected hourly)" },
        schedule: "rate(5 minutes)",
        timezone: "Europe/Paris",
        peopleToNotify: ["ops@example.com"],
        skipSupersededTicks: false,
      },
    }),
  );
  await env.sqs.send(
    new SendMessageCommand({
      QueueUrl: env.runtime.endpoints.queueUrl,
      MessageGroupId: monitorId,
      MessageBody: JSON.stringify({ monitorId, scheduledTime: new Date().toISOString(), reason: "manual" }),
    }),
  );
}

async function stateOf(monitorId: string) {
  const { Item } = await env.doc.send(
    new GetCommand({ TableName: env.runtime.endpoints.tableName, Key: { monitorId, record: "state" } }),
  );
  return Item;
}

beforeAll(async () => {
  env = await startTestRuntime({ web: {} });
  await putMonitor("orders-feed", "Orders feed", false);
  await putMonitor("xss-name", XSS_NAME, false);
  await putMonitor("api-health", "API health", true);
  await eventually("every monitor's first run", async () => {
    const states = await Promise.all(["orders-feed", "xss-name", "api-health"].map(stateOf));
    return states.every((state) => state?.lastRunDt) ? states : undefined;
  });
  // The overview reads the monitor directory, which schedule-sync writes from the stream.
  await eventually("every monitor's directory entry", async () => {
    const entries = await Promise.all(
      ["orders-feed", "xss-name", "api-health"].map(async (monitorId) => {
        const { Item } = await env.doc.send(
          new GetCommand({
            TableName: env.runtime.endpoints.tableName,
            Key: { monitorId, record: "directory" },
          }),
        );
        return Item;
      }),
    );
    return entries.every(Boolean) ? entries : undefined;
  });
  ({ browser, close: closeBrowser } = await launchBrowser());
}, 180_000);

afterAll(async () => {
  await closeBrowser?.();
  await env?.stop();
});

describe("the dashboard in a browser", () => {
  it("reads the overview from the monitor directory: a new table is marked reconciled", async () => {
    const store = new DynamoDashboardStore(env.doc, env.runtime.endpoints.tableName);
    const { monitors, source } = await store.overviewWithSource();
    expect(source).toBe("directory");
    expect(monitors.map((monitor) => monitor.monitorId).sort()).toEqual([
      "api-health",
      "orders-feed",
      "xss-name",
    ]);
  });

  it("signs in, shows the failing monitor, acks it from its page and shows it acked", async () => {
    const web = env.runtime.web;
    if (!web) throw new Error("the runtime has no dashboard");
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const cspViolations: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });

    await page.goto(new URL("monitors", web.url).toString());
    await page.waitForURL(/\/signin$/);
    await page.fill('input[name="username"]', web.cognito.username);
    await page.fill('input[name="password"]', web.cognito.password);
    await page.click('button[type="submit"]');
    await page.waitForURL(/\/monitors$/);

    const row = page.locator("#monitors tr", { has: page.locator('a[href="/monitors/orders-feed"]') });
    await expect(row.locator("td").nth(1).textContent()).resolves.toBe("ALERT");
    // The sparklines come from the script, for the rows on screen.
    await page.waitForSelector("#monitors td.s svg rect.fail");
    // The <script> name is text on the page, never markup.
    await expect(page.locator('a[href="/monitors/xss-name"]').textContent()).resolves.toBe(XSS_NAME);
    expect(
      await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
    ).toBeUndefined();
    await saveScreenshot(page, "dashboard-overview");

    await page.click('a[href="/monitors/orders-feed"]');
    await page.waitForURL(/\/monitors\/orders-feed$/);
    await page.waitForSelector("text=no orders file since 06:00");
    await saveScreenshot(page, "dashboard-monitor");
    await page.fill(
      'form[action="/monitors/orders-feed/ack"] input[name="note"]',
      "looking at the SFTP drop",
    );
    await page.click('form[action="/monitors/orders-feed/ack"] button');
    await page.waitForSelector("p.notice");
    await page.waitForSelector('form[action="/monitors/orders-feed/unack"]');
    expect((await stateOf("orders-feed"))?.ack).toMatchObject({
      by: web.cognito.username,
      note: "looking at the SFTP drop",
    });

    await page.click('nav a[href="/monitors"]');
    await page.waitForURL(/\/monitors$/);
    await expect(row.locator("td").nth(1).textContent()).resolves.toBe("ALERT · acked");
    await expect(row.locator("td").nth(5).textContent()).resolves.toBe(web.cognito.username);
    expect(cspViolations).toEqual([]);
  });

  it("opens a signed ack link without a session, shows what will happen, and acks on confirm", async () => {
    const web = env.runtime.web;
    if (!web) throw new Error("the runtime has no dashboard");
    const incident = String((await stateOf("xss-name"))?.incident?.start);
    const token = signAckToken(
      { monitorId: "xss-name", incident, recipient: "ops@example.com", expiresAt: Date.now() + 3_600_000 },
      web.linkKey,
    );
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(new URL(`ack?t=${token}`, web.url).toString());
    await page.waitForSelector("h1");
    await expect(page.locator("h1").textContent()).resolves.toBe(`Acknowledge ${XSS_NAME}?`);
    await page.waitForSelector("text=ops@example.com");
    // Opening the link changed nothing (mail scanners follow links).
    expect((await stateOf("xss-name"))?.ack).toBeUndefined();
    await page.click('form[action="/ack"] button');
    await page.waitForSelector("h1:text('Acknowledged')");
    expect((await stateOf("xss-name"))?.ack).toMatchObject({ by: "ops@example.com" });
    expect(
      await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned),
    ).toBeUndefined();
  });

  it("follows the ack link of the ALERT mail, stops the reminders, and the recovery clears the ack", async () => {
    const web = env.runtime.web;
    if (!web) throw new Error("the runtime has no dashboard");
    const monitorId = "browser-ack";
    const MINUTE = 60_000;
    // Fails for six minutes of logical time, then passes: reminders would be due at +2 and +4.
    const sequence = [false, false, false, false, false, false, true, true];
    await env.doc.send(
      new PutCommand({
        TableName: env.runtime.endpoints.tableName,
        Item: {
          monitorId,
          record: "config",
          name: "Browser ack",
          check: "manual",
          params: { sequence, sequenceStepMinutes: 1, message: "partner SFTP refused the login" },
          schedule: "rate(1 minute)",
          timezone: "UTC",
          reminderFrequencyMinutes: 2,
          requiredConsecutiveOks: 2,
          peopleToNotify: ["oncall@example.com"],
          // The ticks below are in the past: replay them instead of skipping them as superseded.
          skipSupersededTicks: false,
        },
      }),
    );
    const cycle = sequence.length * MINUTE;
    const start = Math.floor((Date.now() - 60 * MINUTE) / cycle) * cycle;
    const tick = (minute: number) =>
      env.sqs.send(
        new SendMessageCommand({
          QueueUrl: env.runtime.endpoints.queueUrl,
          MessageGroupId: monitorId,
          MessageBody: JSON.stringify({
            monitorId,
            scheduledTime: schedulerTime(new Date(start + minute * MINUTE)),
          }),
        }),
      );
    const mailsOf = async (): Promise<CapturedEmail[]> =>
      (await capturedEmails(env.runtime.endpoints.ses)).filter((mail) =>
        mail.subject.endsWith("] Browser ack"),
      );
    const processed = (minute: number) =>
      eventually(`the tick of minute ${minute}`, async () => {
        const state = await stateOf(monitorId);
        return state?.lastTickTime === new Date(start + minute * MINUTE).toISOString() && !state.outbox
          ? state
          : undefined;
      });

    await tick(0);
    const alert = await eventually("the ALERT mail", async () =>
      (await mailsOf()).find((mail) => mail.subject === "[Monitor ALERT] Browser ack"),
    );
    expect(alert.destination.to).toEqual(["oncall@example.com"]);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/ack\?t=[A-Za-z0-9._~%-]+)/.exec(alert.body.text ?? "")?.[1];
    if (!link) throw new Error(`no ack link in the mail:\n${alert.body.text}`);
    // The HTML part carries the same link, as an anchor.
    expect(alert.body.html).toContain(`href="${link}"`);

    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(link);
    await page.waitForSelector("text=oncall@example.com");
    expect((await stateOf(monitorId))?.ack).toBeUndefined();
    await saveScreenshot(page, "ack-link-confirm");
    await page.click('form[action="/ack"] button');
    await page.waitForSelector("h1:text('Acknowledged')");
    expect((await stateOf(monitorId))?.ack).toMatchObject({ by: "oncall@example.com" });

    // Five more failing minutes: two reminders were due, none goes to an acknowledged incident.
    for (let minute = 1; minute <= 5; minute++) await tick(minute);
    const failing = await processed(5);
    expect(failing.state).toBe("alert");
    expect((await mailsOf()).map((mail) => mail.subject)).toEqual(["[Monitor ALERT] Browser ack"]);

    await tick(6);
    await tick(7);
    const recovered = await eventually("the RECOVERED mail", async () =>
      (await mailsOf()).find((mail) => mail.subject === "[Monitor RECOVERED] Browser ack"),
    );
    expect(recovered.body.text).toContain("oncall@example.com");
    const ok = await processed(7);
    expect(ok.state).toBe("ok");
    expect(ok.ack).toBeUndefined();

    // The dashboard shows it recovered and no longer acknowledged.
    const monitorPage = new URL(`monitors/${monitorId}`, web.url).toString();
    await page.goto(monitorPage);
    if (/\/signin$/.test(page.url())) {
      await page.fill('input[name="username"]', web.cognito.username);
      await page.fill('input[name="password"]', web.cognito.password);
      await page.click('button[type="submit"]');
      await page.waitForURL(/\/monitors$/);
      await page.goto(monitorPage);
    }
    await page.waitForSelector(`form[action="/monitors/${monitorId}/pause"]`);
    expect(await page.locator(`form[action="/monitors/${monitorId}/unack"]`).count()).toBe(0);
    expect(await page.locator(`form[action="/monitors/${monitorId}/ack"]`).count()).toBe(0);
  });
});
