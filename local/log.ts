import type { Writable } from "node:stream";
import type { Logger } from "#core/ports.ts";

/**
 * The local runtime's own log: JSON lines in the same file as the functions' Powertools output,
 * so one `tail -f .watchkeeper/runtime.log | jq` shows the whole pipeline in order.
 */

export type LogLevel = "DEBUG" | "INFO" | "WARN" | "ERROR";
const RANK: Record<LogLevel, number> = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };

export interface LogEntry {
  level: LogLevel;
  message: string;
  service: string;
  timestamp: string;
  [key: string]: unknown;
}

export interface JsonLinesLoggerOptions {
  out: Writable;
  service: string;
  /** @default "INFO" */
  level?: LogLevel;
  /** Sees every entry written (the terminal shows warnings and errors). */
  onEntry?: (entry: LogEntry) => void;
}

export function jsonLinesLogger(options: JsonLinesLoggerOptions): Logger {
  const threshold = RANK[options.level ?? "INFO"];
  const write = (level: LogLevel, message: string, extra: object[]) => {
    if (RANK[level] < threshold) return;
    const entry: LogEntry = {
      level,
      message,
      service: options.service,
      timestamp: new Date().toISOString(),
      ...Object.assign({}, ...extra),
    };
    if (options.out.writable) options.out.write(`${JSON.stringify(entry)}\n`);
    options.onEntry?.(entry);
  };
  return {
    debug: (message, ...extra) => write("DEBUG", message, extra),
    info: (message, ...extra) => write("INFO", message, extra),
    warn: (message, ...extra) => write("WARN", message, extra),
    error: (message, ...extra) => write("ERROR", message, extra),
  };
}
