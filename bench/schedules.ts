import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import Table from "cli-table3";
import { measureSchedules } from "./lib/schedules.ts";

/**
 * `npm run bench:schedules`: only the schedule-evaluation part of the benchmark (seconds, not
 * minutes); merges its `schedules` section into bench/results.json, leaving the rest as it was.
 */
const ROOT = resolve(import.meta.dirname, "..");
const out = resolve(ROOT, "bench/results.json");
const result = measureSchedules();
const results = JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>;
results.schedules = result;
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
const table = new Table({ head: ["next 10 runs", "zone", "median ms"] });
for (const row of result.cases) table.push([row.expression, row.timezone, row.medianMs]);
process.stdout.write(`${table.toString()}\n`);
process.stdout.write(
  `median ${result.medianMs} ms, p95 ${result.p95Ms} ms, slowest case median ${result.worstCaseMedianMs} ms (${result.worstCase}); target < 1 ms\n`,
);
