import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import chromium from "@sparticuz/chromium";
import { type Browser, type Page, chromium as playwright } from "playwright-core";

/**
 * Chromium for the browser tests: playwright-core drives the Chromium that `@sparticuz/chromium`
 * ships inside its npm package, so `npm ci` alone installs it (no `playwright install`, no
 * download). One browser per test file: launch it in beforeAll, `close()` it in afterAll. Browser
 * tests belong in the e2e project, whose globalSetup (test/support/global-chromium.ts) unpacks
 * Chromium once before the workers start: the package's own unpacking is not safe to run twice at
 * the same moment.
 */

/** Where screenshots go: git-ignored, kept by CI as test artifacts. */
export const SCREENSHOT_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "test-artifacts",
  "screenshots",
);

/** One unpacking per worker; the e2e project's globalSetup has done it before the workers start. */
let unpacked: Promise<string> | undefined;

export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
  unpacked ??= chromium.executablePath();
  const executablePath = await unpacked;
  const browser = await playwright.launch({ executablePath, args: chromium.args, headless: true });
  return {
    browser,
    async close() {
      if (browser.isConnected()) await browser.close();
    },
  };
}

/**
 * A full-page PNG of `page` as `test-artifacts/screenshots/<name>.png`; returns
 * its path. `name` may hold `/` for a subfolder; anything but letters, digits, `-`, `_`, `.` and
 * `/` becomes `-`.
 */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const safe = name.replaceAll(/[^\w./-]+/g, "-").replaceAll(/\.\.+/g, ".");
  const path = join(SCREENSHOT_DIR, `${safe}.png`);
  await mkdir(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage: true, animations: "disabled" });
  return path;
}
