import type { NotificationContent } from "../functions/core/render.ts";

/**
 * The example notifications of one incident, shared by scripts/render-email-examples.ts (the files
 * in docs/email-examples/) and the browser test of the mails (test/e2e/email-rendering.test.ts):
 * fixed times across a DST change in a DST zone, with the links a mail carries when the stack has a
 * dashboard (the ack link as long as a signed one: one unbroken token a phone has to wrap).
 */

export const EXAMPLE_LINKS = {
  runbookUrl: "https://wiki.example.org/runbooks/checkout-api",
  dashboardUrl: "https://watchkeeper.example.org/monitors/checkout-api",
  ackUrl: `https://watchkeeper.example.org/ack?t=${"eyJtIjoiY2hlY2tvdXQtYXBpIiwiaSI6IjIwMjYtMDMtMDhUMDc6NTU6MDAuMDAwWiJ9".repeat(2)}.Xk3b9dQ2mN7vR1sT8wY4zA6cE0fH5jL`,
} as const;

export const EXAMPLE_BASE = {
  monitorId: "checkout-api",
  name: "Checkout API health",
  timezone: "America/Chicago",
  check: "http",
  failingSince: "2026-03-08T07:55:00.000Z",
  reminderFrequencyMinutes: 60,
  ...EXAMPLE_LINKS,
} satisfies Partial<NotificationContent>;

export const EXAMPLE_FAILURE =
  "HTTP 503 Service Unavailable from https://api.example.org/health after 212 ms (expected 200)";

export const EXAMPLE_RECOVERY_MESSAGE = "HTTP 200 from https://api.example.org/health after 87 ms";

export const EXAMPLE_NOTIFICATIONS = {
  alert: {
    ...EXAMPLE_BASE,
    type: "alert",
    state: "alert",
    at: "2026-03-08T07:55:00.000Z",
    message: EXAMPLE_FAILURE,
  },
  reminder: {
    ...EXAMPLE_BASE,
    type: "reminder",
    state: "alert",
    // Across the spring-forward change: 1:55 AM CST, then 4:00 AM CDT.
    at: "2026-03-08T09:55:00.000Z",
    message: EXAMPLE_FAILURE,
    reminderNumber: 2,
    acknowledgement: null,
  },
  recovery: {
    ...EXAMPLE_BASE,
    // No ack link once it is over.
    ackUrl: undefined,
    type: "recovery",
    state: "ok",
    at: "2026-03-08T10:20:00.000Z",
    message: EXAMPLE_RECOVERY_MESSAGE,
    lastFailureMessage: EXAMPLE_FAILURE,
    acknowledgement: {
      by: "alice@example.org",
      at: "2026-03-08T10:02:00.000Z",
      note: "rolling back the 09:40 deploy",
    },
  },
} satisfies Record<string, NotificationContent>;
