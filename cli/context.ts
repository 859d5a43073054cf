import type { Command } from "commander";
import type { ErrorContext } from "./errors.ts";
import { type CliIo, Output } from "./io.ts";
import { MonitorsTable } from "./monitors-table.ts";
import { type CliClients, Target, type TargetOptions } from "./target.ts";

/** Options every command accepts (declared on the program, usable after the command name). */
export interface GlobalOptions extends TargetOptions {
  json: boolean;
  debug: boolean;
}

/** What a command's action works with. */
export interface CommandContext {
  io: CliIo;
  out: Output;
  target: Target;
  /** The command's own options merged with the global ones. */
  options: GlobalOptions & Record<string, unknown>;
  now: Date;
  table(): Promise<MonitorsTable>;
}

export type Action = (context: CommandContext) => Promise<void>;
/** Runs an action with its target opened, and always closes it. */
export type Runner = (command: Command, action: Action) => Promise<void>;

export function createRunner(
  io: CliIo,
  clients: CliClients,
  onTarget: (context: () => ErrorContext) => void,
): Runner {
  return async (command, action) => {
    const options = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
    const target = await Target.open(options, io, clients);
    onTarget(() => target.errorContext);
    let table: MonitorsTable | undefined;
    try {
      await action({
        io,
        out: new Output(io, options.json),
        target,
        options,
        now: io.now(),
        table: async () => {
          table ??= new MonitorsTable(target.doc, await target.tableName());
          return table;
        },
      });
    } finally {
      target.destroy();
    }
  };
}
