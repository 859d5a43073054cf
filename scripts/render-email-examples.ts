/**
 * Renders one ALERT, REMINDER and RECOVERED mail (text and HTML, scripts/email-examples.ts) into
 * docs/email-examples/, so that
 * reviewers can read and open what people get: `npx tsx scripts/render-email-examples.ts`.
 * Deterministic: fixed times in a DST zone, so a re-run changes the files only when the layout does.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type NotificationContent, renderNotification } from "../functions/core/render.ts";
import { EXAMPLE_NOTIFICATIONS } from "./email-examples.ts";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "docs", "email-examples");

const examples: Record<string, NotificationContent> = EXAMPLE_NOTIFICATIONS;

mkdirSync(out, { recursive: true });
for (const [type, content] of Object.entries(examples)) {
  const { subject, text, html } = renderNotification(content);
  writeFileSync(join(out, `${type}.txt`), `Subject: ${subject}\n\n${text}\n`);
  writeFileSync(join(out, `${type}.html`), `${html}\n`);
  console.log(`${type}: ${subject}`);
}
console.log(`written to ${out}`);
