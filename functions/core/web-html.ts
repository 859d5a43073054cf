import { escapeHtml } from "./text.ts";

/**
 * HTML for the dashboard, escaped by construction: `html` is a tagged template whose every
 * interpolated value is escaped unless it is already Html (made by `html` itself). There is no
 * other way to put a string into a page, so forgetting to escape is not possible. Pure.
 */

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolated = Html | string | number | boolean | null | undefined | readonly Interpolated[];

function render(value: Interpolated): string {
  if (value === null || value === undefined || value === false) return "";
  if (value instanceof Html) return value.value;
  if (Array.isArray(value)) return value.map(render).join("");
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Interpolated[]): Html {
  let out = strings[0] ?? "";
  for (let index = 0; index < values.length; index++) {
    out += render(values[index]) + (strings[index + 1] ?? "");
  }
  return new Html(out);
}

/** Joins pieces of HTML (escaping any string among them). */
export const join = (pieces: readonly Interpolated[]): Html => new Html(pieces.map(render).join(""));
