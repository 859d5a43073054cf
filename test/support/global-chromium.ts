import chromium from "@sparticuz/chromium";

/**
 * Unpacks the Chromium of `@sparticuz/chromium` (binary, fonts, SwiftShader) into the temporary
 * folder once, before any test file runs. Its own check is "does /tmp/chromium exist", which is
 * true as soon as an extraction has begun: two test files unpacking at the same moment in two
 * workers could launch a half-written binary, or render with half the fonts. Later calls of
 * `chromium.executablePath()` (test/support/browser.ts) then only find what is there.
 */
export default async function setup(): Promise<void> {
  await chromium.executablePath();
}
