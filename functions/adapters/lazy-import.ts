/**
 * A module loaded on first use and kept (a failed load is forgotten, so the next run retries it).
 * The orchestrator loads the SDK clients that few ticks need this way (the checks' clients, SES):
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
