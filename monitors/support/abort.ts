/**
 * Turns an aborted signal into an Error whose message says what was interrupted. The reason of
 * `AbortSignal.timeout()` is a DOMException without context; the orchestrator prints our message.
 */
export function abortedError(signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason;
  const detail = reason instanceof Error ? reason.message : reason === undefined ? "" : String(reason);
  return new Error(`${what} aborted${detail ? `: ${detail}` : ""}`, { cause: reason });
}

/** Resolves after `ms`, or rejects as soon as the signal aborts (and frees the timer). */
export function sleep(ms: number, signal: AbortSignal, what: string): Promise<void> {
  if (signal.aborted) return Promise.reject(abortedError(signal, what));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortedError(signal, what));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
