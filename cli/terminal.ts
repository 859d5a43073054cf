import { randomBytes } from "node:crypto";
import pc from "picocolors";

/**
 * Terminal hygiene for everything the CLI prints. Names, messages and errors come from the
 * Monitors table, which anyone who can write the table controls: an escape sequence there must
 * not reach the operator's terminal (retitle or clear it, move the cursor, write the clipboard
 * through OSC 52, fake or hide output), and a bidi control must not reorder what the operator reads.
 *
 * One sanitizer, `terminalSafe`, applied where output leaves the CLI: runCli wraps stdout and
 * stderr in `terminalStream`, so commands, Commander's messages, errors and stack traces all pass
 * through it. It removes
 * - escape sequences whole: CSI (`ESC [` or the 8-bit U+009B, up to the final byte), OSC, DCS,
 *   SOS, PM and APC strings (up to BEL or ST), and the other `ESC x` sequences;
 * - every other C0 and C1 control character and DEL, except `\n` and `\t`: multi-line output
 *   (`show`, help, stack traces) is intended and a tab rewrites nothing; `\r` goes (a value could
 *   overwrite the start of its line with it);
 * - the Unicode bidi controls U+202A–U+202E, U+2066–U+2069, U+200E, U+200F and U+061C.
 *
 * The CLI's own colours and progress line survive because they never travel as raw control
 * characters: `trustedColors` and `trusted` write them as markers carrying a random per-process
 * nonce, which nothing in the table can know, and terminalSafe turns only those markers back into
 * control characters after cleaning everything else. `--json` output is JSON.stringify's, which
 * escapes C0 controls; `jsonSafe` escapes the C1 and bidi controls it leaves raw.
 */

const MARK = `\uE000${randomBytes(6).toString("hex")}`;
const MARKED: Record<string, string> = { e: "\x1b", r: "\r" };

const ESCAPE_SEQUENCE = new RegExp(
  [
    // OSC, DCS, SOS, PM, APC: a string up to its terminator (BEL or ST). No ESC inside, so the
    // scan stops at the next ESC and stays linear on hostile input.
    "(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d-\\x9f])[^\\x07\\x1b\\x9c]*(?:\\x07|\\x1b\\\\|\\x9c)",
    // CSI: parameters, intermediates, final byte.
    "(?:\\x1b\\[|\\x9b)[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]",
    // Everything else that starts with ESC: intermediates and a final byte (ESC ( B, ESC 7, ESC c).
    "\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]",
  ].join("|"),
  "g",
);
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function clean(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, "").replace(CONTROLS, "").replace(BIDI_CONTROLS, "");
}

/**
 * `text` without escape sequences, control characters (but `\n` and `\t`) or bidi controls; the
 * CLI's own marked colour and progress codes become real ones.
 */
export function terminalSafe(text: string): string {
  const pieces = text.split(MARK);
  let result = clean(pieces[0] ?? "");
  for (const piece of pieces.slice(1)) {
    const control = MARKED[piece.charAt(0)];
    result += control === undefined ? clean(piece) : control + clean(piece.slice(1));
  }
  return result;
}

/** Marks the ESC and CR of text the CLI wrote itself, so that they survive terminalSafe. */
export function trusted(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: marking control characters is the point.
  return text.replace(/[\x1b\r]/g, (control) => MARK + (control === "\r" ? "r" : "e"));
}

export type Colors = ReturnType<typeof pc.createColors>;

/**
 * picocolors whose codes survive terminalSafe, around an argument cleaned first: colouring a
 * value from the table never lets its own escape sequences through.
 */
export function trustedColors(enabled: boolean): Colors {
  const plain = pc.createColors(enabled);
  if (!enabled) return plain;
  const painted: Record<string, unknown> = { ...plain };
  for (const [name, paint] of Object.entries(plain)) {
    if (typeof paint !== "function") continue;
    painted[name] = (input: string | number | null | undefined) =>
      trusted((paint as (value: string) => string)(terminalSafe(String(input))));
  }
  return painted as unknown as Colors;
}

/** A stream whose every write passes through terminalSafe. */
export function terminalStream<T extends { write(text: string): unknown; isTTY?: boolean }>(
  stream: T,
): { write(text: string): unknown; readonly isTTY: boolean | undefined } {
  return {
    write: (text: string) => stream.write(terminalSafe(text)),
    get isTTY() {
      return stream.isTTY;
    },
  };
}

// C1 controls (and DEL), bidi controls and the line/paragraph separators: JSON.stringify leaves
// them raw, and only ever inside strings, where a \uXXXX escape reads back identically.
const JSON_RAW = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** JSON text with every character a terminal could act on escaped; JSON.parse reads the same value. */
export function jsonSafe(json: string): string {
  return json.replace(JSON_RAW, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
