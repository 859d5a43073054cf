import { createInterface } from "node:readline/promises";
import Table from "cli-table3";
import { CliError } from "./errors.ts";
import { type Colors, jsonSafe, terminalSafe, trusted, trustedColors } from "./terminal.ts";

export type { Colors } from "./terminal.ts";

/** A stream the CLI writes to; `isTTY` decides colour and progress. */
export interface OutputStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/**
 * Everything the CLI touches outside the AWS clients, injectable so that tests drive the same
 * entry point the binary uses without a terminal.
 */
export interface CliIo {
  stdout: OutputStream;
  stderr: OutputStream;
  env: Record<string, string | undefined>;
  /** Directory `--state-dir` and relative file arguments are resolved from. */
  cwd: string;
  now: () => Date;
  /** Asks a yes/no question; the default reads a terminal and refuses when there is none. */
  confirm: (question: string) => Promise<boolean>;
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    confirm: terminalConfirm,
  };
}

async function terminalConfirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new CliError(`${question.replace(/\?$/, "")}: not confirmed (stdin is not a terminal): pass --yes`);
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    // readline writes the prompt itself, past the sanitizing streams of runCli.
    const answer = await prompt.question(`${terminalSafe(question)} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function wantsColor(stream: OutputStream, env: CliIo["env"]): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

/**
 * Human output (tables, colour) or machine output (`--json`), never a mix on stdout. Whatever it
 * writes passes through terminalSafe in the streams runCli wraps (cli/terminal.ts); its colours
 * are trustedColors, the only escape codes that survive that.
 */
export class Output {
  readonly color: Colors;
  constructor(
    readonly io: CliIo,
    readonly json: boolean,
  ) {
    this.color = trustedColors(!json && wantsColor(io.stdout, io.env));
  }

  line(text = ""): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** Notes and warnings go to stderr so that stdout stays pipeable. */
  note(text: string): void {
    const stderrColor = trustedColors(wantsColor(this.io.stderr, this.io.env));
    this.io.stderr.write(`${stderrColor.yellow("warning:")} ${text}\n`);
  }

  data(value: unknown): void {
    this.io.stdout.write(`${jsonSafe(JSON.stringify(value, null, 2))}\n`);
  }

  table(head: readonly string[], rows: ReadonlyArray<ReadonlyArray<string>>): void {
    // cli-table3 measures cells without their colour codes only when those are real escapes:
    // cells are cleaned (their own colours restored) before layout, and the result marked trusted.
    const table = new Table({
      head: head.map((title) => terminalSafe(this.color.bold(title))),
      // Borderless, aligned columns: readable in a terminal and greppable in a pipe.
      chars: {
        top: "",
        "top-mid": "",
        "top-left": "",
        "top-right": "",
        bottom: "",
        "bottom-mid": "",
        "bottom-left": "",
        "bottom-right": "",
        left: "",
        "left-mid": "",
        mid: "",
        "mid-mid": "",
        right: "",
        "right-mid": "",
        middle: "  ",
      },
      style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
    });
    for (const row of rows) table.push(row.map(terminalSafe));
    const rendered = table
      .toString()
      .split("\n")
      .map((line) => line.trimEnd())
      .join("\n");
    this.line(trusted(rendered));
  }

  /** Label/value pairs, aligned. */
  fields(pairs: ReadonlyArray<readonly [string, string]>, indent = "  "): void {
    const width = Math.max(0, ...pairs.map(([label]) => label.length));
    for (const [label, value] of pairs)
      this.line(`${indent}${this.color.dim(label.padEnd(width))}  ${value}`);
  }

  heading(text: string): void {
    this.line(this.color.bold(text));
  }

  /** Progress on stderr for long operations, only when a person is watching it. */
  progress(label: string, total: number): Progress {
    return new Progress(this.io.stderr, label, total);
  }
}

export class Progress {
  #done = 0;
  readonly #enabled: boolean;
  constructor(
    private readonly stream: OutputStream,
    private readonly label: string,
    private readonly total: number,
  ) {
    this.#enabled = stream.isTTY === true && total > 1;
  }

  tick(count = 1): void {
    this.#done += count;
    if (this.#enabled) this.stream.write(`${trusted("\r")}${this.label} ${this.#done}/${this.total}`);
  }

  finish(): void {
    if (this.#enabled) this.stream.write(trusted("\r\x1b[2K"));
  }
}
