import fc from "fast-check";
import pc from "picocolors";
import { describe, expect, it } from "vitest";
import { Output } from "../../../cli/io.ts";
import { jsonSafe, terminalSafe, terminalStream, trusted, trustedColors } from "../../../cli/terminal.ts";

const BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"];
const BIDI_MARKS = ["\u200e", "\u200f", "\u061c"];
// Anything a terminal could act on: C0 but \n and \t, DEL, C1, bidi controls.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const ACTIONABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe("terminalSafe", () => {
  it.each([
    ["OSC title, BEL-terminated", "a\u001b]0;pwned\u0007b", "ab"],
    ["OSC title, ST-terminated", "a\u001b]2;pwned\u001b\\b", "ab"],
    ["OSC 52 clipboard write", "a\u001b]52;c;cm0gLXJmIH4=\u0007b", "ab"],
    ["OSC 8 hyperlink", "\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007", "click"],
    ["clear screen", "a\u001b[2Jb", "ab"],
    ["cursor movement and SGR", "\u001b[1;1H\u001b[8mhidden\u001b[0m", "hidden"],
    ["private-mode CSI", "a\u001b[?1049hb", "ab"],
    ["8-bit CSI", "a\u009b2Jb", "ab"],
    ["8-bit OSC", "a\u009d0;pwned\u0007b", "ab"],
    ["DCS string", "a\u001bPq#0;2;0;0;0\u001b\\b", "ab"],
    ["two-character ESC sequences", "a\u001bcb\u001b(Bc\u001b7d", "abcd"],
    ["a lone ESC", "a\u001b", "a"],
    ["ESC then a control", "a\u001b\u0000[2Jb", "a[2Jb"],
    ["an unterminated OSC", "a\u001b]0;pwned", "a0;pwned"],
    ["carriage return", "ok\rALERT", "okALERT"],
    ["NUL, BEL, backspace, DEL, C1 NEL", "a\u0000\u0007\u0008\u007f\u0085b", "ab"],
    ["bidi embeddings, overrides and isolates", `a${BIDI.join("")}b`, "ab"],
    ["bidi marks", `a${BIDI_MARKS.join("")}b`, "ab"],
    ["a Trojan-source style override", "access\u202e\u2066 // admin\u2069\u2066", "access // admin"],
  ])("removes %s", (_, input, expected) => {
    expect(terminalSafe(input)).toBe(expected);
  });

  it("keeps newlines, tabs and ordinary text in any script", () => {
    const text = "line 1\n\tline 2: überprüft, 東京, עברית, العربية, 🚨\n";
    expect(terminalSafe(text)).toBe(text);
  });

  it("leaves nothing a terminal could act on, whatever the input", () => {
    const hostile = fc.string({
      unit: fc.constantFrom(
        "\u001b",
        "[",
        "]",
        "\\",
        "P",
        "0",
        ";",
        "m",
        "J",
        "\u0007",
        "\u009b",
        "\u009c",
        "\u009d",
        "\r",
        "\n",
        "\u0000",
        "\u202e",
        "\u2066",
        "\u200f",
        "\uE000",
        "a",
      ),
      maxLength: 40,
    });
    fc.assert(
      fc.property(hostile, (input) => {
        expect(terminalSafe(input)).not.toMatch(ACTIONABLE);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (input) => {
        expect(terminalSafe(input)).not.toMatch(ACTIONABLE);
      }),
    );
  });

  it("stays linear on a flood of unterminated sequences", () => {
    const flood = "\u001b]".repeat(100_000) + "\u001b[".repeat(100_000);
    const started = performance.now();
    expect(terminalSafe(flood)).not.toMatch(ACTIONABLE);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("cannot be fooled by a forged colour marker", () => {
    // The marker's nonce is random per process: a value can only guess at it.
    for (const forged of ["\uE000e[2J", "\uE000000000000000e[2J", "\uE000r"]) {
      expect(terminalSafe(forged)).not.toMatch(ACTIONABLE);
    }
  });
});

describe("trusted colours and control codes", () => {
  const color = trustedColors(true);
  const real = pc.createColors(true);

  it("paint exactly as picocolors does once through terminalSafe", () => {
    expect(terminalSafe(color.red("alert"))).toBe(real.red("alert"));
    expect(terminalSafe(color.bold(color.yellow("Problems")))).toBe(real.bold(real.yellow("Problems")));
    expect(terminalSafe(color.green(`a ${color.red("b")} c`))).toBe(real.green(`a ${real.red("b")} c`));
    expect(terminalSafe(`${color.dim("label")}  value`)).toBe(`${real.dim("label")}  value`);
  });

  it("clean what they paint: a value's own escapes never pass", () => {
    const hostile = "name\u001b]0;pwned\u0007\u001b[2J\u202e";
    expect(terminalSafe(color.red(hostile))).toBe(real.red("name"));
    expect(color.red(hostile)).not.toContain("\u001b");
  });

  it("are plain text when colour is off", () => {
    const plain = trustedColors(false);
    expect(plain.red("alert")).toBe("alert");
    expect(terminalSafe(plain.red("a\u001b[2Jb"))).toBe("ab");
  });

  it("let the CLI's own progress codes through", () => {
    expect(terminalSafe(`${trusted("\r")}removing 3/9`)).toBe("\rremoving 3/9");
    expect(terminalSafe(trusted("\r\u001b[2K"))).toBe("\r\u001b[2K");
    expect(trusted("\r\u001b[2K")).not.toMatch(ACTIONABLE);
  });
});

describe("terminalStream", () => {
  it("cleans every write and reports the stream's isTTY", () => {
    let written = "";
    const raw = { write: (text: string) => (written += text), isTTY: true };
    const stream = terminalStream(raw);
    stream.write("a\u001b[2Jb\n");
    expect(written).toBe("ab\n");
    expect(stream.isTTY).toBe(true);
  });
});

describe("JSON output", () => {
  it("escapes the C1 and bidi controls JSON.stringify leaves raw, and parses back identically", () => {
    const value = { name: "a\u009b2J\u202eb\u2066\u200f\u061c\u2028", message: "\u001b]0;pwned\u0007", n: 1 };
    const json = jsonSafe(JSON.stringify(value, null, 2));
    expect(json).not.toMatch(ACTIONABLE);
    expect(json).toContain("\\u009b");
    expect(json).toContain("\\u202e");
    expect(JSON.parse(json)).toEqual(value);
  });

  it("is what Output.data writes", () => {
    let written = "";
    const io = {
      stdout: { write: (text: string) => (written += text) },
      stderr: { write: () => true },
      env: {},
      cwd: "/",
      now: () => new Date(),
      confirm: async () => false,
    };
    new Output(io, true).data({ name: "x\u202ey" });
    expect(written).toBe('{\n  "name": "x\\u202ey"\n}\n');
  });
});

describe("Output tables", () => {
  it("align coloured cells by their visible width and clean every cell", () => {
    let written = "";
    const io = {
      stdout: terminalStream({ write: (text: string) => (written += text) }),
      stderr: { write: () => true },
      env: { FORCE_COLOR: "1" },
      cwd: "/",
      now: () => new Date(),
      confirm: async () => false,
    };
    const out = new Output(io, false);
    out.table(
      ["ID", "STATE"],
      [
        ["a\u001b[2J\u202e", out.color.red("alert")],
        ["longer-id", "ok"],
      ],
    );
    const real = pc.createColors(true);
    const lines = written.split("\n");
    expect(lines[0]).toBe(`${real.bold("ID")}         ${real.bold("STATE")}`);
    expect(lines[1]).toBe(`a          ${real.red("alert")}`);
    expect(lines[2]).toBe("longer-id  ok");
    expect(written).not.toContain("[2J");
    expect(written).not.toContain("\u202e");
  });
});
