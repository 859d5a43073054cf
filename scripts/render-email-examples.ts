/**
 * Renders one ALERT, REMINDER and RECOVERED mail (text and HTML) into docs/email-examples/, so that
 * reviewers can read and open what people get: `npx tsx scripts/render-email-examples.ts`.
 * Deterministic: fixed times in a DST zone, so a re-run changes the files only when the layout does.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type NotificationContent, renderNotification } from "../functions/core/render.ts";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "docs", "email-examples");

const base = {
  monitorId: "checkout-api",
  name: "Checkout API health",
  timezone: "America/Chicago",
  check: "http",
  failingSince: "2026-03-08T07:55:00.000Z",
  reminderFrequencyMinutes: 60,
  runbookUrl: "https://wiki.example.org/runbooks/checkout-api",
} satisfies Partial<NotificationContent>;

const failure =
  "HTTP 503 Service Unavailable from https://api.example.org/health after 212 ms (expected 200)";

const examples: Record<string, NotificationContent> = {
  alert: { ...base, type: "alert", state: "alert", at: "2026-03-08T07:55:00.000Z", message: failure },
  reminder: {
    ...base,
    type: "reminder",
    state: "alert",
    // Across the spring-forward change: 1:55 AM CST, then 4:00 AM CDT.
    at: "2026-03-08T09:55:00.000Z",
    message: failure,
    reminderNumber: 2,
    acknowledgement: null,
  },
  recovery: {
    ...base,
    type: "recovery",
    state: "ok",
    at: "2026-03-08T10:20:00.000Z",
    message: "HTTP 200 from https://api.example.org/health after 87 ms",
    lastFailureMessage: failure,
    acknowledgement: {
      by: "alice@example.org",
      at: "2026-03-08T10:02:00.000Z",
      note: "rolling back the 09:40 deploy",
    },
  },
};

mkdirSync(out, { recursive: true });
for (const [type, content] of Object.entries(examples)) {
  const { subject, text, html } = renderNotification(content);
  writeFileSync(join(out, `${type}.txt`), `Subject: ${subject}\n\n${text}\n`);
  writeFileSync(join(out, `${type}.html`), `${html}\n`);
  console.log(`${type}: ${subject}`);
}
console.log(`written to ${out}`);
