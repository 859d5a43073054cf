import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import chromium from "@sparticuz/chromium";
import { type Browser, type Page, chromium as playwright } from "playwright-core";

/**
 * Chromium for browser tests, from the @sparticuz/chromium npm package (the binary ships inside
 * it, so `npm ci` is the whole set-up), driven by playwright-core. Screenshots go to the git-ignored
 * test-artifacts/ folder.
 */

export const ARTIFACTS_DIR = resolve(import.meta.dirname, "../../test-artifacts");

export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const executablePath = await chromium.executablePath();
  const browser = await playwright.launch({ executablePath, args: chromium.args, headless: true });
  return { browser, close: () => browser.close() };
}

/** Saves a full-page screenshot as test-artifacts/<name>.png; returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
