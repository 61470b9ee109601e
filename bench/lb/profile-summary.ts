// Pure: a V8 .cpuprofile (node --cpu-prof) in, the functions with the most self time out.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotFunction {
  name: string;
  location: string;
  selfMs: number;
  percent: number;
}

/**
 * Self time per function, busiest first; only samples inside window (microseconds on the monotonic clock
 * that V8 and process.hrtime share) when given. `(idle)` is left out, so percentages are of busy time.
 */
export function hotFunctions(profileJson: string, top = 20, window?: { fromUs: number; toUs: number }): HotFunction[] {
  const profile = JSON.parse(profileJson) as CpuProfile;
  let at = profile.startTime;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, { name: string; location: string; us: number }>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.fromUs || at > window.toUs)) return;
    if (!node || delta < 0 || node.callFrame.functionName === '(idle)') return;
    totalUs += delta;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/');
    const location = url ? `${file}:${lineNumber + 1}` : '';
    const key = `${functionName}@${location}`;
    const entry = selfUs.get(key) ?? { name: functionName || '(anonymous)', location, us: 0 };
    entry.us += delta;
    selfUs.set(key, entry);
  });
  return [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ name: e.name, location: e.location, selfMs: e.us / 1000, percent: totalUs > 0 ? (e.us / totalUs) * 100 : 0 }));
}

export function hotFunctionsTable(functions: HotFunction[]): string {
  const lines = ['| Self % | Self ms | Function | Where |', '|---:|---:|---|---|'];
  for (const f of functions) lines.push(`| ${f.percent.toFixed(1)} | ${f.selfMs.toFixed(0)} | ${f.name} | ${f.location} |`);
  return lines.join('\n');
}
