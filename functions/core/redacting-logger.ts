import type { LogAttributes, Logger } from "./ports.ts";
import { type RedactOptions, redactSecrets, redactText } from "./text.ts";

/**
 * A Logger that redacts everything on its way to `inner`, at every depth: secret-looking keys, URL
 * credentials, token-like query parameters, and (`mask`) the resolved secret values of the check
 * being run. The orchestrator logs through one, and each check gets one with its own values.
 */
export function redactingLogger(inner: Logger, options: RedactOptions = {}): Logger {
  const message = (text: string) => redactText(options.mask ? options.mask(text) : text);
  const attributes = (extra: LogAttributes[]) =>
    extra.map((attribute) => redactSecrets(attribute, options) as LogAttributes);
  return {
    debug: (text, ...extra) => inner.debug(message(text), ...attributes(extra)),
    info: (text, ...extra) => inner.info(message(text), ...attributes(extra)),
    warn: (text, ...extra) => inner.warn(message(text), ...attributes(extra)),
    error: (text, ...extra) => inner.error(message(text), ...attributes(extra)),
  };
}
