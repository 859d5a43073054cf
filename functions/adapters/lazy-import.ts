/**
 * A module loaded on first use and kept. A failed load is not remembered here, so the next use asks
 * the loader again (a file that could not be read is read again; a module that threw while it was
 * evaluated keeps failing: Node's loader keeps the error until the environment is recycled).
 * The orchestrator loads the SDK clients that few ticks need this way (the checks' clients, SES,
 * the channel senders and directory):
 * its main bundle leaves those packages out (lib/lambda-bundling.ts, side bundles), so a cold start
 * neither ships nor parses them.
 */
export function lazyImport<Module>(load: () => Promise<Module>): () => Promise<Module> {
  let loading: Promise<Module> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
