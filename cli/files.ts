import { readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { CliError } from "./errors.ts";

/** Reads a JSON or YAML file (by extension; anything but .json is read as YAML, a JSON superset). */
export async function readDataFile(path: string, cwd: string): Promise<unknown> {
  const file = resolve(cwd, path);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new CliError(
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  try {
    return extname(file).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const kind = extname(file).toLowerCase() === ".json" ? "JSON" : "YAML";
    throw new CliError(`${path} is not valid ${kind}: ${(error as Error).message.split("\n")[0]}`);
  }
}
