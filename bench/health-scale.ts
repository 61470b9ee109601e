// Health checks at scale (issue 9, item 9): `serve` checking 1,000 servers every second, side by side with
// HAProxy checking the same 1,000 servers with the config `render haproxy` writes from the same spec, and
// the floor: a bare process that only connects and closes at the same rate (bench/health/floor.ts). Reports
// each one's CPU (percent of one core) while it does nothing but check, the checks per second the servers saw,
// and how long the admin outputs (/metrics, /api/status, the status page) take at that size.
//
//   npm run bench:health -- [--servers 1000] [--seconds 15] [--rounds 2] [--no-haproxy] [--no-write]
// (tsc, then node dist/bench/health-scale.js: serve runs from dist/, as installed — under tsx every closure
// pays for esbuild's __name helper, which alone doubles the checker's cost.) Needs root for the nftables
// counter of checks (without it the checks per second are left out). About 3 minutes.
//
// Only loopback: the servers listen on 127.10.x.y (bench/health/listeners.ts, one process). The proxy under
// test is pinned to CPU 1 and everything else to CPU 0 when taskset and two CPUs are there.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RENDERERS } from '../src/render/index.js';
import { parseSpec } from '../src/spec/load.js';
import { serverAddress } from './health/listeners.js';
import { median } from './lb/parse.js';
import { sleep } from './lb/measure.js';
import { canPin, clockTicksPerSecond, commandExists, processTicks, ProcessGroup, type Started } from './lb/processes.js';
import { writeBenchmarkSection } from './section.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const LISTENERS = join(ROOT, 'dist/bench/health/listeners.js');
const CHECKER_COST = join(ROOT, 'dist/bench/health/checker-cost.js');
const FLOOR = join(ROOT, 'dist/bench/health/floor.js');
const WATCHDOG_MS = 6 * 60_000;
const BAR_PERCENT = 5;

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
    'no-haproxy': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const SERVERS = Number(values.servers);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
if (!(SERVERS >= 1 && SERVERS <= 2000) || !(SECONDS >= 2 && SECONDS <= 120) || !(ROUNDS >= 1 && ROUNDS <= 5)) {
  throw new Error('--servers 1..2000, --seconds 2..120, --rounds 1..5');
}
const TICKS = clockTicksPerSecond();
const PINNED = canPin();
const say = (text: string) => process.stdout.write(`${text}\n`);

const group = new ProcessGroup(PINNED);
/** A process of the bench, pinned to cpu, its output (stdout and stderr) in logFile. */
function start(name: string, argv: string[], cpu: number | undefined, logFile: string): Started & { output(): string } {
  writeFileSync(logFile, '');
  const started = group.start(name, argv[0], argv.slice(1), { cpu, logFile, cwd: ROOT });
  return { ...started, output: () => readFileSync(logFile, 'utf8') };
}
const stop = (started: Started) => group.stop(started, 8000);

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, stepMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve().then(fn).catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(stepMs);
  }
}

/**
 * Counts the checks both proxies make: an nftables counter of SYNs to the servers' port (HAProxy resets a
 * check connection before the listener can even accept it, so the listener cannot count them). Needs root;
 * without it, checks per second are not reported. The table is ours alone and removed at the end.
 */
class SynCounter {
  readonly #table = `ce_health_bench_${process.pid}`;
  readonly available: boolean;
  constructor(port: number) {
    const script = [
      `add table inet ${this.#table}`,
      `add chain inet ${this.#table} out { type filter hook output priority 0 ; }`,
      `add rule inet ${this.#table} out ip daddr 127.10.0.0/16 tcp dport ${port} tcp flags & (syn | ack) == syn counter`,
    ].join('\n');
    this.available = spawnSync('nft', ['-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'ignore'] }).status === 0;
  }
  read(): number {
    if (!this.available) return Number.NaN;
    const out = spawnSync('nft', ['-j', 'list', 'chain', 'inet', this.#table, 'out'], { encoding: 'utf8' }).stdout;
    return Number(/"packets":\s*(\d+)/.exec(out)?.[1] ?? Number.NaN);
  }
  remove(): void {
    if (this.available) spawnSync('nft', ['delete', 'table', 'inet', this.#table], { stdio: 'ignore' });
  }
}

interface CpuSample { percent: number; userPercent: number; systemPercent: number; checksPerSecond: number }

/** CPU of pid over SECONDS, and the checks the servers counted meanwhile. */
async function measureCpu(pid: number, syns: SynCounter): Promise<CpuSample> {
  const ticks = processTicks(pid);
  const checks = syns.read();
  const started = process.hrtime.bigint();
  await sleep(SECONDS * 1000);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const after = processTicks(pid);
  const pct = (ticks: number) => (ticks / TICKS / seconds) * 100;
  return { percent: pct(after.total - ticks.total), userPercent: pct(after.user - ticks.user), systemPercent: pct(after.system - ticks.system), checksPerSecond: (syns.read() - checks) / seconds };
}

interface CostPart { variant: string; userPercent: number; systemPercent: number; checksPerSecond: number; up: number }

interface OutputSample { path: string; ms: number; bytes: number; gzipBytes?: number }

async function measureOutputs(adminPort: number): Promise<OutputSample[]> {
  const results: OutputSample[] = [];
  for (const path of ['/metrics', '/api/status', '/', '/?fragment=1']) {
    const times: number[] = [];
    let bytes = 0;
    let gzipBytes: number | undefined;
    for (let i = 0; i < 9; i++) {
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${adminPort}${path}`, { headers: { 'accept-encoding': 'identity' } });
      const body = Buffer.from(await response.arrayBuffer());
      times.push(performance.now() - started);
      if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
      bytes = body.length;
    }
    if (path === '/metrics') {
      const zipped = await fetch(`http://127.0.0.1:${adminPort}${path}`, { headers: { 'accept-encoding': 'gzip' } });
      // fetch decodes gzip itself; the raw length is in content-length when the server compressed.
      const length = Number(zipped.headers.get('content-length'));
      if (zipped.headers.get('content-encoding') === 'gzip' && length > 0) gzipBytes = length;
      await zipped.arrayBuffer();
    }
    results.push({ path, ms: median(times.slice(1)), bytes, ...(gzipBytes ? { gzipBytes } : {}) });
  }
  return results;
}

function specText(port: number, serverPort: number, adminPort: number): string {
  const nodes = Array.from({ length: SERVERS }, (_, i) => `  - { name: n${String(i + 1).padStart(4, '0')}, address: ${serverAddress(i)} }`).join('\n');
  return `# Written by bench/health-scale.ts
cluster: { name: bench }
endpoint: 127.0.0.1
controlPlane:
${nodes}
listeners:
  - { name: kubernetes, port: ${port}, targetPort: ${serverPort}, targets: controlPlane }
healthCheck: { type: tcp, interval: 1s, fastInterval: 1s, timeout: 500ms, healthyThreshold: 2, unhealthyThreshold: 2 }
deregistrationDelay: 1s
balancer: { bind: 127.0.0.1, admin: '127.0.0.1:${adminPort}', watch: false, maxConnections: 1000 }
`;
}

async function freePorts(count: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => resolve(s)); })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const loadBefore = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), 'ce-health-bench-'));
  const haproxy = !values['no-haproxy'] && commandExists('haproxy');
  if (!values['no-haproxy'] && !haproxy) say('haproxy is not installed: measuring serve only (Debian: apt-get install haproxy)');
  const watchdog = setTimeout(() => { say('bench: watchdog fired; stopping'); group.killAllNow(); process.exit(1); }, WATCHDOG_MS);
  let ok = false;
  let syns: SynCounter | undefined;
  try {
    if (PINNED) spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    const [port, adminPort, haproxyPort, haproxyAdmin] = await freePorts(4);
    const listeners = start('listeners', [process.execPath, LISTENERS, String(SERVERS)], 0, join(dir, 'listeners.log'));
    const serverPort = await until('the listeners', () => Number(/listening (\d+)/.exec(listeners.output())?.[1]) || undefined, 30_000);
    syns = new SynCounter(serverPort);
    if (!syns.available) say('nft is not usable (root needed): checks per second are not counted');
    const spec = specText(port, serverPort, adminPort);
    writeFileSync(join(dir, 'endpoint.yaml'), spec);
    const parsed = parseSpec(spec, 'endpoint.yaml');
    if (!parsed.spec) throw new Error(`bench spec invalid: ${JSON.stringify(parsed.problems.slice(0, 3))}`);
    // The rendered config, minus what belongs to an installed HAProxy (socket, chroot, user, syslog), on our ports.
    const rendered = RENDERERS.haproxy.render(parsed.spec, { version: 'bench', specName: 'endpoint.yaml' })[0].contents
      .split('\n').filter((l) => !/^\s*(stats socket|chroot|user |group |log \/dev\/log)/.test(l)).join('\n')
      .replace(`bind 127.0.0.1:${port}\n`, `bind 127.0.0.1:${haproxyPort}\n`).replace(`bind 127.0.0.1:${adminPort}\n`, `bind 127.0.0.1:${haproxyAdmin}\n`);
    writeFileSync(join(dir, 'haproxy.cfg'), rendered);
    if (haproxy) {
      const check = spawnSync('haproxy', ['-c', '-q', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
      if (check.status !== 0) throw new Error(`haproxy rejected the rendered config:\n${check.stdout}${check.stderr}`);
    }

    const ours: CpuSample[] = [];
    const theirs: CpuSample[] = [];
    const floor: CpuSample[] = [];
    let outputs: OutputSample[] = [];
    let upAfterMs = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? ['ours', 'haproxy', 'floor'] : ['floor', 'haproxy', 'ours'];
      for (const which of order) {
        if (which === 'haproxy' && !haproxy) continue;
        if (which === 'floor') {
          const proc = start('floor', [process.execPath, FLOOR, String(serverPort), String(SERVERS)], 1, join(dir, `floor-${round}.log`));
          try {
            await until('the floor process', () => proc.output().includes('connecting') || undefined, 10_000, 100);
            await sleep(3000);
            const sample = await measureCpu(proc.pid, syns);
            floor.push(sample);
            say(`round ${round} floor:   ${sample.percent.toFixed(2)} % of a core (user ${sample.userPercent.toFixed(2)}, system ${sample.systemPercent.toFixed(2)}), ${sample.checksPerSecond.toFixed(0)} connects/s`);
          } finally {
            await stop(proc);
          }
        } else if (which === 'ours') {
          const serveStarted = Date.now();
          const serve = start('serve', [process.execPath, CLI, 'serve', '-c', join(dir, 'endpoint.yaml')], 1, join(dir, `serve-${round}.log`));
          try {
            await until('serve: every server up', async () => {
              if (serve.hasExited()) throw new Error(`serve exited: ${serve.output().slice(-2000)}`);
              const status = (await (await fetch(`http://127.0.0.1:${adminPort}/api/status`)).json()) as { listeners: { servers: { state: string }[] }[] };
              return status.listeners[0].servers.every((s) => s.state === 'up') || undefined;
            }, 60_000, 1000);
            upAfterMs = Date.now() - serveStarted;
            await sleep(3000);
            const sample = await measureCpu(serve.pid, syns);
            ours.push(sample);
            say(`round ${round} serve:   ${sample.percent.toFixed(2)} % of a core (user ${sample.userPercent.toFixed(2)}, system ${sample.systemPercent.toFixed(2)}), ${sample.checksPerSecond.toFixed(0)} checks/s`);
            if (round === 1) {
              outputs = await measureOutputs(adminPort);
              for (const o of outputs) say(`  ${o.path.padEnd(13)} ${o.ms.toFixed(1)} ms, ${(o.bytes / 1024).toFixed(0)} KiB${o.gzipBytes ? ` (${(o.gzipBytes / 1024).toFixed(0)} KiB gzip)` : ''}`);
            }
          } finally {
            await stop(serve);
          }
        } else {
          const proc = start('haproxy', ['haproxy', '-db', '-f', join(dir, 'haproxy.cfg')], 1, join(dir, `haproxy-${round}.log`));
          try {
            // HAProxy starts its servers UP; give it the same settling time as ours after its first round of checks.
            await sleep(5000);
            if (proc.hasExited()) throw new Error(`haproxy exited: ${proc.output().slice(-2000)}`);
            const sample = await measureCpu(proc.pid, syns);
            theirs.push(sample);
            say(`round ${round} HAProxy: ${sample.percent.toFixed(2)} % of a core (user ${sample.userPercent.toFixed(2)}, system ${sample.systemPercent.toFixed(2)}), ${sample.checksPerSecond.toFixed(0)} checks/s`);
          } finally {
            await stop(proc);
          }
        }
      }
    }
    // Where serve's share goes: the checker alone (a probe that answers at once), then with the tcp probe.
    const parts: CostPart[] = [];
    for (const variant of ['noop', 'tcp']) {
      const proc = start(`checker-${variant}`, [process.execPath, CHECKER_COST, variant, String(serverPort), String(SERVERS), String(SECONDS)], 1, join(dir, `checker-${variant}.log`));
      await proc.exited;
      const line = proc.output().trim().split('\n').pop() ?? '';
      parts.push(JSON.parse(line) as CostPart);
      say(`checker alone (${variant === 'noop' ? 'no socket' : 'tcp probe'}): ${line}`);
    }
    await stop(listeners);

    const oursPct = median(ours.map((s) => s.percent));
    const theirsPct = theirs.length ? median(theirs.map((s) => s.percent)) : undefined;
    const floorPct = median(floor.map((s) => s.percent));
    const section = report({ oursPct, theirsPct, floorPct, ours, theirs, floor, outputs, parts, upAfterMs, loadBefore, durationS: (Date.now() - startedAt) / 1000 });
    say(`\n${section}`);
    if (!values['no-write']) {
      writeBenchmarkSection(join(ROOT, 'BENCHMARKS.md'), 'health', section);
      say('wrote BENCHMARKS.md (health section)');
    }
    ok = true;
  } finally {
    clearTimeout(watchdog);
    syns?.remove();
    group.killAllNow();
    if (ok) rmSync(dir, { recursive: true, force: true });
    else say(`logs and configs kept in ${dir}`);
  }
}

/** What changed to get here, measured with this bench on this machine (kept across runs). */
const HISTORY = [
  'Before issue 9\'s work on the checker: the checker alone took 6.7 % of a core with a probe that answers at once',
  '(4.5 % after reusing the AbortSignal, 1.6 % once checks share 20 ms slots instead of each waking the event loop),',
  'and `/metrics` took ~75 ms to format at 1,000 servers (~20 ms since the series are written directly,',
  '`bench/health/admin-outputs.ts`). The tcp probe then used a `net.Socket` per check; since it connects with the',
  'balancer\'s own TCP engine (libuv handles, `src/lb/tcp/handles.ts`) it costs about a quarter less (same machine,',
  'back to back: 14–15 % against 18–20 % of a core for checker and probe). The 5 % bar is still not met: the user',
  'time is mostly not our JavaScript (a CPU profile puts the connect and close calls themselves, V8 and libuv around',
  'them, and garbage collection first); HAProxy, at 5–8 %, is almost all kernel time. The machine is shared with',
  'other work, so rounds vary by a few points.',
  '',
  'Then the floor was measured (a bare process connecting and closing at the same rate: 7.5–9.5 % here, mostly',
  'system time), and with it what was left to cut. The engine got a connect-only path for checks (a bare handle and',
  'its connect request: no stream object, no reading, no TCP_NODELAY), and the checker runs a tcp check in callback',
  'form straight on it, without a promise, an AbortSignal listener and the attempt wrapper per check, which had cost',
  'a third as much as the connects themselves. Before, on 2026-12-03: serve 16.0 % (checker and tcp probe 15.8 %);',
  'the table above is after.',
];

function report(r: { oursPct: number; theirsPct?: number; floorPct: number; ours: CpuSample[]; theirs: CpuSample[]; floor: CpuSample[]; outputs: OutputSample[]; parts: CostPart[]; upAfterMs: number; loadBefore: number; durationS: number }): string {
  const cps = (xs: CpuSample[]) => { const v = median(xs.map((s) => s.checksPerSecond)); return Number.isNaN(v) ? '—' : v.toFixed(0); };
  const rounds = (xs: CpuSample[]) => xs.map((s) => s.percent.toFixed(2)).join(', ');
  const split = (xs: CpuSample[]) => (xs.length ? `${median(xs.map((s) => s.userPercent)).toFixed(2)} / ${median(xs.map((s) => s.systemPercent)).toFixed(2)}` : '—');
  const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) : '—');
  const lines = [
    '## Health checks at scale: 1,000 servers every second (issue 9, item 9)',
    '',
    `Measured ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} with \`npm run bench:health${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` as root (took ${r.durationS.toFixed(0)} s).`,
    '',
    `- ${SERVERS.toLocaleString('en-US')} servers on loopback (127.10.x.y, one listening process that accepts and closes), one listener; tcp checks every 1 s (timeout 500 ms, rise 2, fall 2). HAProxy runs the config \`render haproxy\` writes from the same spec (minus stats socket, chroot, user and syslog): \`inter 1s\`, one thread.`,
    '- The floor: a bare Node process that only connects and closes, one raw libuv TCP handle per server per second in 20 ms slots, as the checks are spread (`bench/health/floor.ts`; no checker, no objects of ours). It is what the connects themselves cost a Node process on this machine, through libuv: the checks in `serve` cannot go below it. (HAProxy, in C with its own poller and no runtime, can: compare the rows.)',
    `- Each process alone on its CPU (${PINNED ? 'taskset: the one measured on CPU 1, the servers and the bench on CPU 0' : 'no pinning available'}), idle but for the checks, for ${SECONDS} s per round (serve: after every server is up); ${ROUNDS} round(s), the order alternating. CPU = user + system time of the process over wall time (100 % = one core).`,
    `- Machine: ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}; 1-minute load average ${r.loadBefore.toFixed(2)} before the run, ${loadavg()[0].toFixed(2)} after (other work shares this machine).`,
    '',
    '| | serve | HAProxy | floor | serve / floor | serve / HAProxy | Bar |',
    '|---|---:|---:|---:|---:|---:|---|',
    `| CPU, % of one core (median) | ${r.oursPct.toFixed(2)} | ${r.theirsPct?.toFixed(2) ?? '—'} | ${r.floorPct.toFixed(2)} | ${ratio(r.oursPct, r.floorPct)} | ${ratio(r.oursPct, r.theirsPct)} | serve ≤ ${BAR_PERCENT} %: ${r.oursPct <= BAR_PERCENT ? 'PASS' : 'FAIL'} |`,
    `| CPU per round | ${rounds(r.ours)} | ${rounds(r.theirs) || '—'} | ${rounds(r.floor)} | | | |`,
    `| of which user / system (median) | ${split(r.ours)} | ${split(r.theirs)} | ${split(r.floor)} | | | |`,
    `| Checks per second (SYNs to the servers, nftables counter) | ${cps(r.ours)} | ${r.theirs.length ? cps(r.theirs) : '—'} | ${cps(r.floor)} | | | |`,
    '',
    `What limits the bar: the floor. One connect and close per server per second costs ${r.floorPct.toFixed(1)} % of a core here with nothing`,
    `else in the process${r.floorPct > BAR_PERCENT ? `, above the ${BAR_PERCENT} % bar by itself` : ''}: most of it is kernel time (socket, connect, epoll, close, and on`,
    'loopback the servers\' half of the handshake runs in the connecting process\'s system time too); HAProxy pays nearly',
    'the same kernel cost. serve / floor is what the checker adds on top of the connects. (User and system are split by',
    'the kernel\'s tick sampling, which is biased for a process that wakes on timer ticks; their sum is exact.)',
    '',
    `serve had every server up ${(r.upAfterMs / 1000).toFixed(1)} s after it was started (first checks spread over the first second, then rise 2).`,
    '',
    `Admin outputs of serve at ${SERVERS.toLocaleString('en-US')} servers (median of 8 requests, loopback, while checking):`,
    '',
    '| Output | Time, ms | Size |',
    '|---|---:|---:|',
    ...r.outputs.map((o) => `| \`GET ${o.path}\` | ${o.ms.toFixed(1)} | ${(o.bytes / 1024).toFixed(0)} KiB${o.gzipBytes ? ` (${(o.gzipBytes / 1024).toFixed(0)} KiB with gzip)` : ''} |`),
    '',
    'Where serve\'s CPU goes (the same 1,000 checkers in a bare process, `bench/health/checker-cost.ts`, % of one core):',
    '',
    '| Part | User | System | Total | Checks/s |',
    '|---|---:|---:|---:|---:|',
    ...r.parts.map((p) => `| ${p.variant === 'noop' ? 'checker alone: timing, timeout, rise/fall (a promise probe that answers at once, no socket)' : 'checker with its tcp check (the engine\'s connect-only probe: connect, close)'} | ${p.userPercent.toFixed(2)} | ${p.systemPercent.toFixed(2)} | ${(p.userPercent + p.systemPercent).toFixed(2)} | ${p.checksPerSecond.toFixed(0)} |`),
    '',
    'The second row against the floor is what the checker adds to the connects (timing, timeout, rise/fall, a result',
    'per check); serve against the second row is the rest of the daemon (its listeners, admin server and state).',
    '',
    ...HISTORY,
  ];
  return `${lines.join('\n')}\n`;
}

main().catch((error: unknown) => {
  say(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  group.killAllNow();
  process.exit(1);
});
