import { terminalSafe } from "../cli/terminal.ts";

/**
 * Widths of text on a terminal, for the `npm start` view: SGR colour codes take no room, East
 * Asian wide and fullwidth characters and emoji take two columns, combining marks and other
 * zero-width characters none. Text is measured by grapheme (Intl.Segmenter), so a flag or an
 * emoji with modifiers counts once.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point.
const SGR_OR_CSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching escape sequences is the point.
const LEADING_ESCAPE = /^\x1b\[[0-9;?]*[ -/]*[@-~]/;
const segmenter = new Intl.Segmenter("en", { granularity: "grapheme" });

/** East Asian Wide (W) and Fullwidth (F) blocks: what terminals draw two columns wide. */
const WIDE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f], // Hangul Jamo initials
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility, Kanbun, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small forms
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6],
  [0x16fe0, 0x18aff], // Tangut, Khitan
  [0x1b000, 0x1b2ff], // Kana supplement, Nushu
  [0x1f200, 0x1f2ff], // enclosed ideographic supplement
  [0x20000, 0x3fffd], // CJK extensions B…
];

function isWide(codePoint: number): boolean {
  for (const [from, to] of WIDE_RANGES) {
    if (codePoint < from) return false;
    if (codePoint <= to) return true;
  }
  return false;
}

/** Columns one grapheme takes. */
export function graphemeWidth(grapheme: string): number {
  const first = grapheme.codePointAt(0) ?? 0;
  if (/^[\p{Cc}\p{Cf}\p{Mn}\p{Me}]+$/u.test(grapheme)) return 0;
  if (
    /\p{Emoji_Presentation}|\uFE0F/u.test(grapheme) &&
    /\p{Extended_Pictographic}|\p{Regional_Indicator}/u.test(grapheme)
  )
    return 2;
  return isWide(first) ? 2 : 1;
}

/** SGR and other CSI sequences removed. */
export function stripAnsi(text: string): string {
  return text.replace(SGR_OR_CSI, "");
}

/** Columns `text` takes on one terminal line (colour codes excluded). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const { segment } of segmenter.segment(stripAnsi(text))) width += graphemeWidth(segment);
  return width;
}

/**
 * `text` cut to at most `width` columns, ending with "…" when cut. Colour codes are kept (they take
 * no room), and a cut text that had any ends with a reset, so no colour leaks past it.
 */
export function clipToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return "";
  let out = "";
  let used = 0;
  let coloured = false;
  let rest = text;
  while (rest.length > 0) {
    const sequence = LEADING_ESCAPE.exec(rest);
    if (sequence) {
      out += sequence[0];
      coloured = true;
      rest = rest.slice(sequence[0].length);
      continue;
    }
    const next = rest.indexOf("\x1b", 1);
    const plain = next === -1 ? rest : rest.slice(0, next);
    for (const { segment } of segmenter.segment(plain)) {
      const w = graphemeWidth(segment);
      // No space before the ellipsis: "step 2 of…", not "step 2 of …".
      if (used + w > width - 1) return `${out.replace(/ +$/, "")}…${coloured ? "\x1b[0m" : ""}`;
      out += segment;
      used += w;
    }
    rest = next === -1 ? "" : rest.slice(next);
  }
  return out;
}

/** `text` padded with spaces to `width` columns (never cut). */
export function padToWidth(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - displayWidth(text)));
}

/**
 * A value from the table made fit for one terminal cell: escape sequences, control and bidi
 * characters removed (they could move the cursor or garble the view), whitespace flattened.
 */
export function cellText(value: string): string {
  return terminalSafe(value).replaceAll(/\s+/g, " ").trim();
}

/**
 * Word-wraps plain text (no colour codes) into at most `lines` lines of at most `width` columns,
 * the last ending with "…" when the text did not fit. A word longer than a line is split.
 */
export function wrapToWidth(text: string, width: number, lines: number): string[] {
  const rows: string[] = [];
  let current = "";
  let currentWidth = 0;
  const push = () => {
    rows.push(current);
    current = "";
    currentWidth = 0;
  };
  for (const word of text.split(" ").filter(Boolean)) {
    const wordWidth = displayWidth(word);
    const gap = current ? 1 : 0;
    if (currentWidth + gap + wordWidth <= width) {
      current += (gap ? " " : "") + word;
      currentWidth += gap + wordWidth;
      continue;
    }
    if (wordWidth <= width && current) {
      push();
      current = word;
      currentWidth = wordWidth;
      continue;
    }
    // Longer than what is left of the line: split it by grapheme where the line ends.
    if (current) {
      current += " ";
      currentWidth += 1;
    }
    for (const { segment } of segmenter.segment(word)) {
      const w = graphemeWidth(segment);
      if (currentWidth + w > width) push();
      current += segment;
      currentWidth += w;
    }
  }
  if (current) push();
  if (rows.length <= lines) return rows;
  const kept = rows.slice(0, lines);
  kept[lines - 1] = clipToWidth(`${kept[lines - 1] ?? ""}…`, width);
  return kept;
}
