import { copyFile, mkdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type NotificationContent,
  type RenderedEmail,
  renderNotification,
  withDeliveryDelay,
} from "#core/render.ts";
import {
  EXAMPLE_BASE,
  EXAMPLE_FAILURE,
  EXAMPLE_NOTIFICATIONS,
  EXAMPLE_RECOVERY_MESSAGE,
} from "../../scripts/email-examples.ts";
import { launchBrowser, saveScreenshot } from "../support/browser.ts";

/**
 * The notification mails in a real browser (Chromium through playwright-core): each example is
 * loaded as its HTML part at a phone's 390 px and at 800 px. Readable on a phone means no
 * horizontal scrolling; the first thing on screen is the check's message and for how long; every
 * link is a real https anchor; the text and HTML parts say the same words; hostile values stay text.
 *
 * Screenshots of each mail at both widths go to test-artifacts/screenshots/email/ (git-ignored);
 * with WATCHKEEPER_SCREENSHOTS_TO_DOCS=1 (`npm run screenshots`) they are also copied into
 * docs/screenshots/, whose PNGs are committed.
 */

// The page's DOM, used only in callbacks that run inside Chromium (the project's lib has no DOM types).
// biome-ignore lint/suspicious/noExplicitAny: typed by the browser, not by this program.
declare const document: any;

const DOCS_SCREENSHOTS = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "screenshots");
const toDocs = process.env.WATCHKEEPER_SCREENSHOTS_TO_DOCS === "1";

const base = EXAMPLE_BASE;
const failure = EXAMPLE_FAILURE;
const alert: NotificationContent = EXAMPLE_NOTIFICATIONS.alert;

interface Example {
  email: RenderedEmail;
  /** The first line of the headline: what is wrong and for how long. */
  message: string;
  duration: RegExp;
  links: string[];
  /** A late mail starts with the delay notice (by design), then the headline. */
  late?: boolean;
  /** Its screenshots go to docs/screenshots/ too. */
  docs?: boolean;
}

const examples: Record<string, Example> = {
  alert: {
    email: renderNotification(alert),
    message: failure,
    duration: /^Failing since 1:55 AM CST: /,
    links: [base.ackUrl, base.dashboardUrl, base.runbookUrl],
    docs: true,
  },
  reminder: {
    email: renderNotification(EXAMPLE_NOTIFICATIONS.reminder),
    message: failure,
    duration: /^Still failing after 2 h: /,
    links: [base.ackUrl, base.dashboardUrl, base.runbookUrl],
    docs: true,
  },
  recovery: {
    email: renderNotification(EXAMPLE_NOTIFICATIONS.recovery),
    message: EXAMPLE_RECOVERY_MESSAGE,
    duration: /^Recovered after 2 h 25 min: /,
    // No ack link once it is over.
    links: [base.dashboardUrl, base.runbookUrl],
    docs: true,
  },
  "late-alert": {
    email: withDeliveryDelay(renderNotification(alert), {
      type: "alert",
      decidedAt: alert.at,
      delayMs: 47 * 60_000,
      reason: "the mail service could not take it earlier",
    }),
    message: failure,
    duration: /^Failing since 1:55 AM CST: /,
    links: [base.ackUrl, base.dashboardUrl, base.runbookUrl],
    late: true,
    docs: true,
  },
  "multi-line-message": {
    email: renderNotification({
      ...alert,
      message: `${failure}\nResponse body:\n${"x".repeat(300)}\n<html><body>upstream connect error</body></html>`,
    }),
    message: failure,
    duration: /^Failing since 1:55 AM CST: /,
    links: [base.ackUrl, base.dashboardUrl, base.runbookUrl],
  },
};

const HOSTILE = "<img src=x onerror=alert(1)>";

/** The words of a part, in order: letters and digits only, so "Label: value" and a table row compare equal. */
function words(text: string): string[] {
  return text.normalize("NFC").match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Blocks with text that a reader sees, in document order (the hidden preheader is not one). */
async function visibleBlocks(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.body.querySelectorAll("p, th, td, pre")]
      .filter((element) => element.checkVisibility({ opacityProperty: true, visibilityProperty: true }))
      // biome-ignore lint/performance/useDomNodeTextContent: what is rendered, as a reader sees it.
      .map((element) => element.innerText.trim())
      .filter(Boolean),
  );
}

describe("notification mails in Chromium", () => {
  let browser: Browser;
  let close: () => Promise<void>;
  let page: Page;
  const dialogs: string[] = [];

  beforeAll(async () => {
    ({ browser, close } = await launchBrowser());
    page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    // A mail is self-contained: nothing may be fetched (an `<img src=x>` that got through would try).
    await page.route("**/*", (route) => route.abort());
  });

  afterAll(async () => {
    await close?.();
  });

  async function load(html: string, width: number): Promise<void> {
    await page.setViewportSize({ width, height: 844 });
    await page.setContent(html, { waitUntil: "load" });
  }

  /** Only the four example mails go to docs/; the test variants stay artifacts. */
  async function screenshot(name: string, docs = false): Promise<void> {
    const path = await saveScreenshot(page, `email/${name}`);
    expect(path).toMatch(/test-artifacts\/screenshots\/email\/[\w-]+\.png$/);
    expect((await readFile(path)).subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
    if (toDocs && docs) {
      await mkdir(DOCS_SCREENSHOTS, { recursive: true });
      await copyFile(path, join(DOCS_SCREENSHOTS, `email-${name}.png`));
    }
  }

  describe.each(Object.entries(examples))("%s", (name, example) => {
    const { email } = example;

    it("fits a 390 px phone: no horizontal scrolling", async () => {
      await load(email.html, 390);
      await screenshot(`${name}-390`, example.docs);
      const widths = await page.evaluate(() => ({
        document: document.documentElement.scrollWidth,
        body: document.body.scrollWidth,
      }));
      expect(widths.document).toBeLessThanOrEqual(390);
      expect(widths.body).toBeLessThanOrEqual(390);
    });

    it("is one readable column at 800 px", async () => {
      await load(email.html, 800);
      await screenshot(`${name}-800`, example.docs);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(800);
      const column = await page.evaluate(
        () => document.body.querySelector("div:not([style*='display:none'])")?.getBoundingClientRect().width,
      );
      expect(column).toBeLessThanOrEqual(600);
    });

    it("shows the check's message and for how long first", async () => {
      await load(email.html, 390);
      const blocks = await visibleBlocks(page);
      const first = example.late ? blocks[1] : blocks[0];
      if (example.late) expect(blocks[0]).toMatch(/^Delayed: this ALERT was decided at .* 47 min late/);
      expect(first).toMatch(example.duration);
      expect(first).toContain(example.message);
      // The text part starts the same way (the inbox preview of a plain-text reader).
      const textFirst = example.late ? email.text.split("\n")[2] : email.text.split("\n")[0];
      expect(textFirst).toBe(first);
      // The inbox preview (the hidden preheader) is the headline too.
      const preheader = await page.evaluate(() => document.body.firstElementChild?.textContent);
      expect(preheader).toBe(example.late ? blocks[1] : blocks[0]);
    });

    it("links are real https anchors, one for each link in the text part", async () => {
      await load(email.html, 390);
      const anchors = await page.evaluate(() =>
        [...document.querySelectorAll("a")].map((anchor) => ({
          href: anchor.getAttribute("href"),
          protocol: anchor.protocol,
          text: anchor.textContent,
        })),
      );
      expect(anchors.map((anchor) => anchor.href)).toEqual(example.links);
      for (const anchor of anchors) {
        expect(anchor.protocol).toBe("https:");
        expect(anchor.text).toBe(anchor.href);
      }
      for (const url of example.links) expect(email.text).toContain(url);
    });

    it("text and HTML parts carry the same words in the same order", async () => {
      await load(email.html, 800);
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, without the hidden preheader.
      const shown = await page.evaluate(() => document.body.innerText);
      expect(words(shown)).toEqual(words(email.text));
    });
  });

  describe("hostile monitor name and message", () => {
    const email = renderNotification({
      ...alert,
      name: `${HOSTILE}\r\nBcc: victim@example.org`,
      monitorId: "hostile",
      check: `http${HOSTILE}`,
      message: `${HOSTILE}<script>alert(2)</script>\r\n<a href="javascript:alert(3)">click</a>`,
      runbookUrl: "javascript:alert(4)",
      dashboardUrl: 'https://watchkeeper.example.org/"><img src=x onerror=alert(5)>',
    });

    it("keeps the subject on one line", () => {
      expect(email.subject).not.toMatch(/[\r\n]/);
      expect(email.subject.startsWith("[Monitor ALERT] ")).toBe(true);
    });

    it("renders inert: no element injected, nothing runs, the values show as text", async () => {
      await load(email.html, 390);
      await screenshot("hostile-390");
      const injected = await page.evaluate(() => ({
        elements: document.querySelectorAll("img, script, iframe, object, embed, svg, form, input").length,
        handlers: [...document.querySelectorAll("*")].filter((element) =>
          [...element.attributes].some((attribute) => attribute.name.startsWith("on")),
        ).length,
        hrefs: [...document.querySelectorAll("a")].map((anchor) => anchor.getAttribute("href")),
        // biome-ignore lint/performance/useDomNodeTextContent: what a reader sees.
        text: document.body.innerText,
      }));
      expect(injected.elements).toBe(0);
      expect(injected.handlers).toBe(0);
      expect(dialogs).toEqual([]);
      // Only the https links: not the javascript: runbook nor the message's own anchor.
      for (const href of injected.hrefs) expect(href).toMatch(/^https:\/\//);
      expect(injected.text).toContain(HOSTILE);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    });
  });
});
