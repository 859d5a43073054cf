/**
 * Text hygiene for anything that leaves the orchestrator: mail headers, mail bodies, state items.
 */

/** Longest check message kept: DynamoDB items stay far below 400 KB, SES mails far below 40 MB. */
export const MAX_MESSAGE_CHARS = 4_000;

// C0/C1 controls, DEL, and the Unicode line/paragraph separators some mail clients honour.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const ALL_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROLS_EXCEPT_NEWLINE_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;
// Unicode bidi controls (embeddings, overrides, isolates, marks): a monitor name or message with
// U+202E can show a mail client's reader text in another order than it was written ("Trojan
// source"). Removed, not replaced: they are invisible, and a space would split words.
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Cuts at `end` without leaving half of a surrogate pair (DynamoDB and SQS reject lone surrogates). */
function cut(value: string, end: number): string {
  const code = value.charCodeAt(end - 1);
  return value.slice(0, code >= 0xd800 && code <= 0xdbff ? end - 1 : end);
}

/**
 * One line, safe in a mail header: control characters (CR/LF above all) become spaces, bidi
 * controls go.
 */
export function headerSafe(value: string, maxLength = 200): string {
  const flat = value.replace(BIDI_CONTROLS, "").replace(ALL_CONTROLS, " ").replace(/\s+/g, " ").trim();
  return flat.length > maxLength ? `${cut(flat, maxLength - 1)}…` : flat;
}

/** Multi-line text with stray control characters and bidi controls removed, newlines normalised. */
export function bodySafe(value: string): string {
  return value.replace(/\r\n?/g, "\n").replace(CONTROLS_EXCEPT_NEWLINE_TAB, "").replace(BIDI_CONTROLS, "");
}

/** Caps a check message, saying so visibly so nobody mistakes a cut message for the whole story. */
export function truncateMessage(message: string, maxChars = MAX_MESSAGE_CHARS): string {
  if (message.length <= maxChars) return message;
  const marker = ` … [truncated: ${message.length} characters in total]`;
  return cut(message, maxChars - marker.length) + marker;
}

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}

const SECRET_KEY = /token|passw|secret|key|authorization|credential|cookie|signature|session/i;
export const REDACTED = "[redacted]";

/** A copy of `params` safe to log: values under secret-looking keys are replaced, at any depth. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((entry) => redactSecrets(entry, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, entry]) => [
      key,
      SECRET_KEY.test(key) ? REDACTED : redactSecrets(entry, depth + 1),
    ]),
  );
}

/** A human-readable description of anything thrown (checks may throw strings, null, objects…). */
export function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message ? `${thrown.name}: ${thrown.message}` : thrown.name;
  if (thrown === undefined) return "undefined was thrown";
  if (thrown === null) return "null was thrown";
  if (typeof thrown === "string") return thrown || "an empty string was thrown";
  try {
    return `a non-Error value was thrown: ${JSON.stringify(thrown)?.slice(0, 500)}`;
  } catch {
    return `a non-Error value was thrown: ${String(thrown)}`;
  }
}
