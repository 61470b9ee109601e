// The rolling-upgrade drill, side by side (issue 9): for each control-plane node in turn — drain, stop, start,
// wait until healthy, undrain — while `cluster-endpoint watch --https /readyz` opens new connections through
// the endpoint and long-lived streams run through it; once through `serve`, once through HAProxy with the
// config `render haproxy` writes from the same spec (drained through its runtime API). test/soak/drill.ts does
// the work; test/integration/soak/rolling-upgrade.test.ts is the short version in the suite.
//   node --import tsx bench/rolling-upgrade.ts [--rounds 2] [--streams 20] [--rate 50] [--no-write]
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { drillProblems, formatDrill, runDrill, type DrillEngine, type DrillReport } from '../test/soak/drill.js';
import { commandExists } from './lb/processes.js';
import { writeBenchmarkSection } from './section.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '2' }, streams: { type: 'string', default: '20' }, rate: { type: 'string', default: '50' }, 'no-write': { type: 'boolean', default: false } } });
const rounds = Number(values.rounds);
const streams = Number(values.streams);
const rate = Number(values.rate);
if (!(rounds >= 1 && rounds <= 5) || !(streams >= 1 && streams <= 200) || !(rate >= 1 && rate <= 200)) throw new Error('--rounds 1..5, --streams 1..200, --rate 1..200');
const say = (text: string) => process.stdout.write(`${text}\n`);

const startedAt = Date.now();
const loadBefore = loadavg()[0];
const engines: DrillEngine[] = commandExists('haproxy') ? ['serve', 'haproxy'] : ['serve'];
if (engines.length === 1) say('haproxy is not installed: the drill runs through serve only');
const results = new Map<DrillEngine, DrillReport[]>(engines.map((e) => [e, []]));
for (let round = 1; round <= rounds; round++) {
  for (const engine of round % 2 ? engines : [...engines].reverse()) {
    const report = await runDrill({ engine, streams, rate, stepMs: 2000, log: (line) => say(`  ${engine} ${line}`) });
    say(formatDrill(report));
    results.get(engine)!.push(report);
  }
}

const row = (engine: DrillEngine) => {
  const list = results.get(engine)!;
  const sum = (pick: (r: DrillReport) => number) => list.reduce((a, r) => a + pick(r), 0);
  const reconnects = list.flatMap((r) => r.streams.reconnectMs).sort((a, b) => a - b);
  const problems = list.flatMap(drillProblems);
  return `| ${engine === 'serve' ? '`serve`' : 'HAProxy (`render haproxy`)'} | ${sum((r) => r.watch.attempts)} | ${sum((r) => r.watch.failed)} | ${sum((r) => r.watch.outages)} | ${sum((r) => r.streams.cut)} | ${reconnects.length ? reconnects[Math.floor(reconnects.length / 2)] : '—'} | ${reconnects.length ? reconnects[reconnects.length - 1] : '—'} | ${sum((r) => r.streams.failedReconnects)} | ${problems.length ? `FAIL: ${problems.join('; ')}` : 'pass'} |`;
};
const section = [
  '## Rolling-upgrade drill: serve vs HAProxy (issue 9)',
  '',
  `Measured ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} with \`node --import tsx bench/rolling-upgrade.ts${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}\` (took ${((Date.now() - startedAt) / 1000).toFixed(0)} s).`,
  '',
  `- Three stand-in control-plane nodes (test/helpers/node-program.ts, one process each on 127.9.x.y): HTTPS on the \`kubernetes\` listener's target port (any path answers 200, as \`/readyz\` does) and a watch-like stream (a line every 100 ms) on a second listener. Checks every 1 s (fast 250 ms, timeout 500 ms, rise 2, fall 2).`,
  `- For each node in turn: drain, stop (SIGTERM: it closes its listeners and ends its connections), start, wait until the balancer sees it up on both listeners, undrain; 2 s between steps. \`serve\` is drained through its admin API (what \`cluster-endpoint drain\` does); HAProxy runs the config \`render haproxy\` writes from the same spec (minus chroot, user and syslog; its runtime API socket moved to a temp dir) and is drained with \`set server <listener>/<node> state drain\`.`,
  `- Meanwhile \`cluster-endpoint watch --https /readyz --rate ${rate}/s\` opens a new connection and makes one HTTPS request on it every ${(1000 / rate).toFixed(0)} ms, and ${streams} streams stay open; a cut stream reconnects at once, and its reconnect time runs from the cut to the first line on the new stream. ${rounds} round(s) per engine, the order alternating.`,
  `- Machine: ${cpus().length} CPUs, Node ${process.version}; 1-minute load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after (other work shares this machine).`,
  '',
  '| Through | New connections (watch) | Failed | Outages | Streams cut | Reconnect median, ms | Reconnect slowest, ms | Failed reconnects | Bar: 0 failed, every reconnect ≤ 1 s |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ...engines.map(row),
  '',
  'Streams are cut only when their node stops: a drained node keeps its established connections (the',
  'deregistration delay, 30 s, is longer than a step), and stopping it ends them; the clients reconnect at once',
  'and the balancer sends them to the other nodes. With the drain first, no new connection goes to a node that is',
  'going away, so `watch` sees no failure through either balancer: the drill shows the procedure works with both,',
  'not a difference between them.',
].join('\n');
say(`\n${section}`);
if (!values['no-write']) {
  writeBenchmarkSection(join(ROOT, 'BENCHMARKS.md'), 'drill', section);
  say('wrote BENCHMARKS.md (drill section)');
}
process.exitCode = engines.some((e) => results.get(e)!.some((r) => drillProblems(r).length > 0)) ? 1 : 0;
