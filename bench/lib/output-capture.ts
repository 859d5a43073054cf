/**
 * Swallows and counts what the function writes to stdout and stderr (Powertools Logger lines and
 * EMF metric records): the bytes CloudWatch Logs would ingest. The bench's own progress goes
 * through `say`, which writes to the real stderr.
 */
export class OutputCapture {
  #bytes = 0;
  #active = false;
  readonly #stderrWrite = process.stderr.write.bind(process.stderr);

  install(): void {
    for (const stream of [process.stdout, process.stderr]) {
      const original = stream.write.bind(stream);
      stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
        if (!this.#active) return original(chunk as never, ...(rest as []));
        this.#bytes += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength;
        const callback = rest.find((value) => typeof value === "function") as (() => void) | undefined;
        if (callback) queueMicrotask(callback);
        return true;
      }) as typeof stream.write;
    }
  }

  /** Starts counting (and swallowing); returns the bytes counted so far. */
  start(): number {
    this.#active = true;
    return this.#bytes;
  }

  stop(): number {
    this.#active = false;
    return this.#bytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  say(line: string): void {
    this.#stderrWrite(`${line}\n`);
  }
}
