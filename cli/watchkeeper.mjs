#!/usr/bin/env node
// Launcher of the operator CLI: registers tsx so that the TypeScript sources run as they are,
// from any working directory (`npx watchkeeper`, or a symlink on PATH).
import { register } from "tsx/esm/api";

register();
const { main } = await import("./main.ts");
await main();
