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

// `scheme://userinfo@`: whatever stands before the @ of an authority is a credential (user:password,
// or a token used as the user name).
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
// `?name=value` / `&name=value` (also `;`) anywhere in a text: a URL, a form body, an error message.
const QUERY_PARAMETER = /([?&;])([^=&?#;\s"'<>]+)=([^&#;\s"'<>]*)/g;
// Names of query parameters that carry credentials: token, access_token, api_key, apikey, key,
// sig, signature, X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, password, secret...
const SECRET_PARAMETER = /token|secret|passw|pwd|signature|credential|auth|session|key$|^sig$|^code$/i;
// An HTTP credential quoted in a text (`Authorization: Bearer abc`).
const AUTH_SCHEME = /\b(Bearer|Basic|Digest|Token)\s+[A-Za-z0-9._~+/=-]{4,}/g;

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, " "));
  } catch {
    return name;
  }
}

/**
 * A text safe to log: URL credentials (`https://user:pass@host`), the values of token-like query
 * parameters (`?token=`, `access_token`, `api_key`, `X-Amz-Signature`...) and `Bearer`/`Basic`
 * credentials are replaced by `[redacted]`, wherever they appear in it.
 */
export function redactText(text: string): string {
  return text
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(QUERY_PARAMETER, (whole, separator: string, name: string, value: string) =>
      value.length > 0 && SECRET_PARAMETER.test(decodedName(name))
        ? `${separator}${name}=${REDACTED}`
        : whole,
    )
    .replace(AUTH_SCHEME, `$1 ${REDACTED}`);
}

/** `{"secretRef": "arn..."}`: a reference names a secret without holding it, so logs may show it. */
const isSecretReference = (value: unknown): boolean =>
  typeof value === "object" &&
  value !== null &&
  Object.keys(value).length === 1 &&
  typeof (value as { secretRef?: unknown }).secretRef === "string";

/** Nesting beyond this is replaced, never passed through: a deep value is not a safe value. */
const MAX_REDACTION_DEPTH = 64;

export interface RedactOptions {
  /** Applied to every string before redactText, e.g. masking resolved secret values. */
  mask?: (text: string) => string;
}

/**
 * A copy of a value safe to log, at every depth: values under secret-looking keys are replaced
 * (a `secretRef` reference is kept: it names a secret, it does not hold one), every string goes
 * through redactText (and `mask`), Errors keep their name with a redacted message and stack,
 * cycles and absurd nesting are cut.
 */
export function redactSecrets(value: unknown, options: RedactOptions = {}): unknown {
  const text = (input: string) => redactText(options.mask ? options.mask(input) : input);
  const ancestors = new Set<object>();
  const walk = (entry: unknown, depth: number): unknown => {
    if (typeof entry === "string") return text(entry);
    if (entry === null || typeof entry !== "object") return entry;
    if (ancestors.has(entry)) return "[circular]";
    if (depth >= MAX_REDACTION_DEPTH) return "[too deep]";
    ancestors.add(entry);
    try {
      if (entry instanceof Error) {
        const copy = new Error(text(entry.message));
        copy.name = entry.name;
        copy.stack = entry.stack === undefined ? undefined : text(entry.stack);
        Object.assign(copy, walk({ ...entry }, depth + 1));
        if (entry.cause !== undefined) copy.cause = walk(entry.cause, depth + 1);
        return copy;
      }
      if (entry instanceof Date) return entry;
      if (Array.isArray(entry)) return entry.map((item) => walk(item, depth + 1));
      if (entry instanceof Set) return [...entry].map((item) => walk(item, depth + 1));
      if (entry instanceof Map) return walk(Object.fromEntries(entry), depth + 1);
      return Object.fromEntries(
        Object.entries(entry).map(([key, item]) => [
          key,
          key === "secretRef" && typeof item === "string"
            ? text(item)
            : SECRET_KEY.test(key) && !isSecretReference(item)
              ? REDACTED
              : walk(item, depth + 1),
        ]),
      );
    } finally {
      ancestors.delete(entry);
    }
  };
  return walk(value, 0);
}

/** A human-readable description of anything thrown (checks may throw strings, null, objects…). */
export function describeThrown(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message ? `${thrown.name}: ${thrown.message}` : thrown.name;
  if (thrown === undefined) return "undefined was thrown";
  if (thrown === null) return "null was thrown";
  if (typeof thrown === "string") return thrown || "an empty string was thrown";
  try {
    // Cut at a message's length, not shorter: it is masked before the final cut (run-check.ts, preview).
    const json = JSON.stringify(thrown);
    return `a non-Error value was thrown: ${json !== undefined && json.length > MAX_MESSAGE_CHARS ? `${json.slice(0, MAX_MESSAGE_CHARS)}…` : json}`;
  } catch {
    return `a non-Error value was thrown: ${String(thrown)}`;
  }
}
