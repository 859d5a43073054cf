import { Session } from "node:inspector/promises";

/**
 * CPU profile of a piece of work in this process (V8's sampling profiler through node:inspector),
 * self time summed by npm package or first-party folder: where a tick's CPU goes.
 */
interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
  hitCount?: number;
}

function bucket(url: string): string {
  if (!url) return "(native/idle/gc)";
  const dependency = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (dependency?.[1]) return dependency[1];
  if (url.startsWith("node:")) return "node:internal";
  const local = url.match(/\/(functions\/[^/]+|monitors|bench|local|test)\//);
  return local?.[1] ?? url;
}

export async function profile(work: () => Promise<void>): Promise<Array<{ module: string; share: number }>> {
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  await work();
  const { profile: result } = (await session.post("Profiler.stop")) as unknown as {
    profile: { nodes: ProfileNode[] };
  };
  session.disconnect();
  const totals = new Map<string, number>();
  let all = 0;
  for (const node of result.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0 || node.callFrame.functionName === "(idle)" || node.callFrame.functionName === "(program)")
      continue;
    const key = bucket(node.callFrame.url);
    totals.set(key, (totals.get(key) ?? 0) + hits);
    all += hits;
  }
  return [...totals.entries()]
    .map(([module, hits]) => ({ module, share: Math.round((hits / all) * 1000) / 1000 }))
    .sort((a, b) => b.share - a.share)
    .slice(0, 15);
}
