import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderNotification } from "#core/render.ts";
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

  it("puts name, id, state, type, UTC and local time and the message verbatim in the text body", () => {
    const { text } = renderNotification({ ...content, message: "line one\nline two: <b>ok</b>" });
    expect(text).toContain("Monitor: Compass PO feed (compass-po)");
    expect(text).toContain("Notification: ALERT");
    expect(text).toContain("State: ALERT");
    expect(text).toContain("Time (UTC): 2026-11-21T14:05:00.000Z");
    expect(text).toMatch(/Time \(local\): Nov 21, 2026, 8:05:00 AM CST \(America\/Chicago\)/);
    expect(text).toContain("line one\nline two: <b>ok</b>");
  });

  it("cannot be made to inject headers through the name", () => {
    const { subject } = renderNotification({ ...content, name: "Feed\r\nBcc: attacker@evil.test\u2028X" });
    expect(subject).toBe("[Monitor ALERT] Feed Bcc: attacker@evil.test X");
    expect(subject).not.toMatch(/[\r\n\u2028]/);
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
