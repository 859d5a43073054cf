import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderNotification, withDeliveryDelay } from "#core/render.ts";
import {
  bodySafe,
  describeThrown,
  escapeHtml,
  headerSafe,
  redactSecrets,
  truncateMessage,
} from "#core/text.ts";

const content = {
  type: "alert" as const,
  monitorId: "compass-po",
  name: "Compass PO feed",
  state: "alert" as const,
  at: "2026-11-21T14:05:00.000Z",
  timezone: "America/Chicago",
  check: "dynamodb-freshness",
  message: "newest item is 3h12m old (limit 90m)",
};

describe("renderNotification", () => {
  it.each([
    ["alert", "[Monitor ALERT] Compass PO feed"],
    ["reminder", "[Monitor REMINDER] Compass PO feed"],
    ["recovery", "[Monitor RECOVERED] Compass PO feed"],
  ] as const)("uses the exact %s subject", (type, subject) => {
    expect(renderNotification({ ...content, type }).subject).toBe(subject);
  });

  it("says what is wrong first, in the check's words, then the times local first and UTC after", () => {
    const { text } = renderNotification({ ...content, message: "line one\nline two: <b>ok</b>" });
    const lines = text.split("\n");
    expect(lines[0]).toBe("Failing since 8:05 AM CST: line one line two: <b>ok</b>");
    expect(text).toContain(
      "Failing since: Nov 21, 2026, 8:05:00 AM CST (America/Chicago) · 2026-11-21T14:05:00.000Z",
    );
    expect(text).toContain("Monitor: Compass PO feed (compass-po)");
    expect(text).toContain("Check: dynamodb-freshness");
    // Several lines do not fit the headline: the whole message follows, verbatim.
    expect(text).toContain("Message from the check:\nline one\nline two: <b>ok</b>");
    // Order: headline, lead, fields (times before the monitor), message, signature.
    const order = [
      "Failing since 8:05",
      "started failing",
      "Failing since: ",
      "Monitor: ",
      "Message from",
      "-- Watchkeeper",
    ];
    const positions = order.map((fragment) => text.indexOf(fragment));
    expect(positions.every((position) => position >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it("shows the check's message in the inbox preview: the text's first 100 characters and the HTML preheader", () => {
    const { text, html } = renderNotification(content);
    expect(text.slice(0, 100)).toContain("newest item is 3h12m old (limit 90m)");
    const preheader = /<body[^>]*><div style="display:none[^"]*">([^<]*)<\/div>/.exec(html)?.[1];
    expect(preheader).toBe("Failing since 8:05 AM CST: newest item is 3h12m old (limit 90m)");
    // A one-line message is said once: no repeated block at the bottom.
    expect(text).not.toContain("Message from the check:");
  });

  it("says the same things in the text and the HTML part, in the same order", () => {
    const email = renderNotification({
      ...content,
      type: "reminder",
      state: "alert",
      failingSince: "2026-11-21T11:00:00.000Z",
      reminderNumber: 3,
      reminderFrequencyMinutes: 60,
      acknowledgement: null,
      runbookUrl: "https://wiki.example.org/run?x=1&y=2",
      message: "a & b\nsecond <line>",
    });
    const visible = email.html
      .replace(/<div style="display:none[^>]*>[^<]*<\/div>/, "")
      .replace(/<br>/g, "\n")
      .replace(/<\/(p|tr|pre)>/g, "\n")
      .replace(/<\/th>/g, ": ")
      .replace(/<[^>]+>/g, "")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, "&");
    const words = (value: string) => value.replace(/\s+/g, " ").trim();
    expect(words(visible)).toBe(words(email.text));
  });

  it("gives local time first and UTC after across a DST change, in the monitor's zone", () => {
    // US spring forward: 2026-03-08 02:00 CST becomes 03:00 CDT.
    const { text } = renderNotification({
      ...content,
      type: "reminder",
      state: "alert",
      timezone: "America/Chicago",
      failingSince: "2026-03-08T07:30:00.000Z",
      at: "2026-03-08T09:00:00.000Z",
      reminderNumber: 1,
    });
    expect(text).toContain(
      "Failing since: Mar 8, 2026, 1:30:00 AM CST (America/Chicago) · 2026-03-08T07:30:00.000Z",
    );
    expect(text).toContain(
      "Checked at: Mar 8, 2026, 4:00:00 AM CDT (America/Chicago) · 2026-03-08T09:00:00.000Z",
    );
    expect(text.split("\n")[0]).toBe("Still failing after 1 h 30 min: newest item is 3h12m old (limit 90m)");
  });

  it("REMINDER says how long it has been failing and how many reminders went out", () => {
    const { text } = renderNotification({
      ...content,
      type: "reminder",
      state: "alert",
      failingSince: "2026-11-19T12:00:00.000Z",
      reminderNumber: 4,
      reminderFrequencyMinutes: 720,
      acknowledgement: null,
    });
    expect(text.split("\n")[0]).toBe("Still failing after 2 d 2 h: newest item is 3h12m old (limit 90m)");
    expect(text).toContain("has been failing for 2 d 2 h. This is reminder 4 (3 sent before it).");
    expect(text).toContain("Reminders every 12 h until it recovers or someone acknowledges it.");
    expect(text).toContain("Acknowledged: nobody");
  });

  it("says 'at least' when the incident was adopted (its start is only when it was first seen)", () => {
    const { text } = renderNotification({
      ...content,
      type: "reminder",
      state: "alert",
      failingSince: "2026-11-21T13:05:00.000Z",
      failingSinceIsLowerBound: true,
    });
    expect(text.split("\n")[0]).toMatch(/^Still failing after at least 1 h: /);
  });

  it("RECOVERED gives the outage's duration, its last failure and who acknowledged", () => {
    const { text, html } = renderNotification({
      ...content,
      type: "recovery",
      state: "ok",
      failingSince: "2026-11-21T11:50:00.000Z",
      message: "newest item is 2m old",
      lastFailureMessage: "newest item is 3h12m old (limit 90m)",
      acknowledgement: { by: "alice@example.org", at: "2026-11-21T12:10:00.000Z" },
    });
    expect(text.split("\n")[0]).toBe("Recovered after 2 h 15 min: newest item is 2m old");
    expect(text).toContain("is healthy again after an outage of 2 h 15 min.");
    expect(text).toContain(
      "Failing from: Nov 21, 2026, 5:50:00 AM CST (America/Chicago) · 2026-11-21T11:50:00.000Z",
    );
    expect(text).toContain(
      "Recovered at: Nov 21, 2026, 8:05:00 AM CST (America/Chicago) · 2026-11-21T14:05:00.000Z",
    );
    expect(text).toContain("Outage: 2 h 15 min");
    expect(text).toContain("Acknowledged: alice@example.org at 2026-11-21T12:10:00.000Z");
    expect(text).toContain("Last failure: newest item is 3h12m old (limit 90m)");
    expect(html).toContain("#067647"); // green headline
  });

  it("links the runbook when there is one, and renders no link, label or empty slot without it", () => {
    const runbookUrl = "https://wiki.example.org/runbooks/compass?team=po&v=2";
    const withRunbook = renderNotification({ ...content, runbookUrl });
    expect(withRunbook.text).toContain(`Runbook: ${runbookUrl}`);
    expect(withRunbook.html).toContain(
      `Runbook: <a href="${escapeHtml(runbookUrl)}" style="color:#175cd3">${escapeHtml(runbookUrl)}</a>`,
    );
    // Links come right after the lead, before the times.
    expect(withRunbook.text.indexOf("Runbook:")).toBeLessThan(withRunbook.text.indexOf("Failing since:"));
    const without = renderNotification(content);
    for (const part of [without.text, without.html]) {
      expect(part).not.toMatch(/Runbook|Acknowledge:|Dashboard|<a /);
    }
  });

  it("fills the ack and dashboard slots when given, in order, and never links anything but http(s)", () => {
    const email = renderNotification({
      ...content,
      ackUrl: "https://watchkeeper.example.org/ack?t=abc",
      dashboardUrl: "https://watchkeeper.example.org/m/compass-po",
      runbookUrl: "https://wiki.example.org/r",
    });
    const links = email.text.split("\n").filter((line) => /^(Acknowledge|Dashboard|Runbook): /.test(line));
    expect(links).toEqual([
      "Acknowledge: https://watchkeeper.example.org/ack?t=abc",
      "Dashboard: https://watchkeeper.example.org/m/compass-po",
      "Runbook: https://wiki.example.org/r",
    ]);
    const hostile = renderNotification({
      ...content,
      ackUrl: "javascript:alert(1)",
      dashboardUrl: 'https://x.example/"><script>',
    });
    expect(hostile.html).not.toContain("javascript:");
    expect(hostile.html).not.toContain("<script>");
    expect(hostile.text).not.toContain("Acknowledge:");
    // A RECOVERED has nothing left to acknowledge.
    expect(
      renderNotification({ ...content, type: "recovery", state: "ok", ackUrl: "https://a.example/x" }).text,
    ).not.toContain("Acknowledge:");
  });

  it("is one readable column on a phone: viewport, a max-width container, no layout tables, inline styles", () => {
    const { html } = renderNotification({ ...content, runbookUrl: "https://wiki.example.org/r" });
    expect(html).toContain('<meta name="viewport" content="width=device-width,initial-scale=1">');
    expect(html).toMatch(/<div style="max-width:600px;margin:0 auto;[^"]*overflow-wrap:anywhere/);
    // One table, for the key/value rows only; no widths in pixels wider than a 390 px screen.
    expect(html.match(/<table/g)).toHaveLength(1);
    expect(html).not.toMatch(/<td[^>]*>\s*<table/);
    expect(html).not.toMatch(/(?<!max-)width:(?:[4-9]\d\d|\d{4,})px/);
    expect(html).not.toMatch(/<style|<link|<script|class=/);
  });

  it("cannot be made to inject headers through the name", () => {
    const { subject } = renderNotification({ ...content, name: "Feed\r\nBcc: attacker@evil.test\u2028X" });
    expect(subject).toBe("[Monitor ALERT] Feed Bcc: attacker@evil.test X");
    expect(subject).not.toMatch(/[\r\n\u2028]/);
  });

  it("escapes hostile names and messages everywhere in the HTML, preheader and headline included", () => {
    const { html, text, subject } = renderNotification({
      ...content,
      type: "reminder",
      state: "alert",
      name: "Feed</title><script>alert(1)</script>\r\nBcc: x@evil.test",
      message: '<img src=x onerror=alert(1)>"\'&\n<a href="https://evil.test">click</a>',
      acknowledgement: {
        by: "<b>mallory</b>",
        at: "2026-11-21T13:00:00.000Z",
        note: "</td></tr></table><iframe>",
      },
    });
    expect(subject).toBe("[Monitor REMINDER] Feed</title><script>alert(1)</script> Bcc: x@evil.test");
    expect(subject).not.toMatch(/[\r\n]/);
    for (const tag of ["<script", "<img", '<a href="https://evil', "<iframe", "<b>mallory", "</title>"]) {
      expect(html).not.toContain(tag);
    }
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;");
    expect(text.split("\n")[0]).toBe(
      'Still failing after less than a minute: <img src=x onerror=alert(1)>"\'& <a href="https://evil.test">click</a>',
    );
  });

  it("escapes HTML from names and messages, and keeps unicode", () => {
    const { html, text } = renderNotification({
      ...content,
      name: "Café <script>",
      message: '"><img src=x onerror=alert(1)> ✓ 日本',
    });
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt; ✓ 日本");
    expect(text).toContain("✓ 日本");
  });

  it("property: subjects never contain control characters, whatever the name", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (name) => {
        const { subject } = renderNotification({ ...content, name });
        // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence is the point.
        expect(subject).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
        expect(subject.length).toBeLessThanOrEqual(220);
      }),
    );
  });
});

describe("withDeliveryDelay", () => {
  const delay = {
    type: "alert" as const,
    decidedAt: "2026-11-21T14:05:00.000Z",
    delayMs: 600_000,
    reason: "x",
  };
  it("puts the note first in the readable column of today's mails", () => {
    const { html, text } = withDeliveryDelay(renderNotification(content), delay);
    expect(text).toMatch(
      /^Delayed: this ALERT was decided at 2026-11-21T14:05:00.000Z and is delivered 10 min late/,
    );
    expect(html.indexOf("<strong>Delayed:")).toBeGreaterThan(html.indexOf("max-width:600px"));
  });
  it("still marks a mail rendered in the old layout (an outbox entry written before an upgrade)", () => {
    const old = {
      subject: "s",
      text: "t",
      html: "<!doctype html><html><body><p>A monitor has started failing.</p></body></html>",
    };
    expect(withDeliveryDelay(old, delay).html).toContain("<body><p><strong>Delayed: this ALERT");
  });
});

describe("text hygiene", () => {
  it("headerSafe flattens and caps", () => {
    expect(headerSafe("a\r\nb\tc\u0000d")).toBe("a b c d");
    expect(headerSafe("x".repeat(500))).toHaveLength(200);
  });

  const BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c";

  it("headerSafe removes every bidi control, without splitting words", () => {
    expect(headerSafe(`[Monitor ALERT] pay\u202eroll\u202c ${BIDI_CONTROLS}api`)).toBe(
      "[Monitor ALERT] payroll api",
    );
    expect(headerSafe(`a${BIDI_CONTROLS}b`)).toBe("ab");
    expect(headerSafe("\u2066\u202e  \u2069")).toBe("");
    expect(headerSafe("Réseau — 東京 — עברית — العربية")).toBe("Réseau — 東京 — עברית — العربية");
  });

  it("bodySafe removes every bidi control and keeps the text", () => {
    expect(bodySafe(`line\u202e 1\n${BIDI_CONTROLS}line 2`)).toBe("line 1\nline 2");
    expect(bodySafe("עברית\nالعربية")).toBe("עברית\nالعربية");
  });

  it("bodySafe keeps newlines and tabs, drops other controls", () => {
    expect(bodySafe("a\r\nb\tc\u0007d\u001be")).toBe("a\nb\tcde");
  });

  it("truncates megabyte messages with a visible marker", () => {
    const message = truncateMessage("x".repeat(1_048_576));
    expect(message.length).toBe(4_000);
    expect(message).toMatch(/\[truncated: 1048576 characters in total\]$/);
    expect(truncateMessage("short")).toBe("short");
  });

  it("escapes all HTML metacharacters", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
    );
  });

  it("redacts secret-looking params at any depth", () => {
    expect(
      redactSecrets({
        url: "https://example.com",
        apiKey: "k",
        headers: { Authorization: "Bearer t", accept: "json" },
        nested: [{ password: "p", user: "u" }],
        clientSecret: "s",
        token: 1,
      }),
    ).toEqual({
      url: "https://example.com",
      apiKey: "[redacted]",
      headers: { Authorization: "[redacted]", accept: "json" },
      nested: [{ password: "[redacted]", user: "u" }],
      clientSecret: "[redacted]",
      token: "[redacted]",
    });
  });

  it.each([
    [new TypeError("bad"), "TypeError: bad"],
    ["plain string", "plain string"],
    [null, "null was thrown"],
    [undefined, "undefined was thrown"],
    [{ code: 7 }, 'a non-Error value was thrown: {"code":7}'],
    [42, "a non-Error value was thrown: 42"],
  ])("describes a thrown %s", (thrown, description) => {
    expect(describeThrown(thrown)).toBe(description);
  });
});

describe("truncation and unicode", () => {
  it("never leaves half of a surrogate pair at the cut", () => {
    const emoji = "😀".repeat(3_000);
    const message = truncateMessage(emoji);
    expect(message).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    expect(headerSafe("😀".repeat(150))).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });
});
