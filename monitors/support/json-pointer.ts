/**
 * JSON Pointer (RFC 6901): `/items/0/status` walks a parsed JSON document. `~1` stands for `/`
 * and `~0` for `~` in a token; `""` is the whole document. Only own properties are followed, so
 * `/constructor` or `/__proto__` find what the document holds, never what objects inherit.
 */

/** The tokens of a pointer, or undefined when it is not one. */
export function parsePointer(pointer: string): string[] | undefined {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) return undefined;
  const tokens = pointer.slice(1).split("/");
  // `~` must be followed by 0 or 1; ~1 is decoded before ~0, so `~01` is `~1`, not `/`.
  if (tokens.some((token) => /~(?![01])/.test(token))) return undefined;
  return tokens.map((token) => token.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export type PointerResult = { found: true; value: unknown } | { found: false };

/** The value a pointer designates in `document`, if there is one. */
export function resolvePointer(document: unknown, tokens: readonly string[]): PointerResult {
  let current = document;
  for (const token of tokens) {
    if (Array.isArray(current)) {
      // Array indexes are written without leading zeros; `-` (past the end) designates nothing.
      if (!/^(0|[1-9]\d*)$/.test(token)) return { found: false };
      const index = Number(token);
      if (index >= current.length) return { found: false };
      current = current[index];
    } else if (typeof current === "object" && current !== null) {
      if (!Object.hasOwn(current, token)) return { found: false };
      current = (current as Record<string, unknown>)[token];
    } else {
      return { found: false };
    }
  }
  return { found: true, value: current };
}
