// New connections while the admin surface is hammered (issue 24, item 5): serve in front of 1,000 servers,
// local clients polling /metrics back to back, and a steady stream of new client connections through the
// balancer timed from connect() to the server's first byte. Side by side in one run: serve as it is (ours),
// serve as it was before issue 24 (built from git, --before REF), and HAProxy with its Prometheus exporter
// hammered the same way (the config `render haproxy` writes from the same spec).
//
//   npm run bench:admin -- [--servers 1000] [--seconds 10] [--rounds 2] [--clients 4,32] [--path /metrics]
//                          [--before f0e5843 | --no-before] [--no-haproxy] [--pin] [--no-write]
// About 5 minutes. Only loopback: the servers are one process on 127.10.x.y (bench/health/listeners.ts).
// As root, the prober and the servers run at a higher priority (nice -10) and the hammering clients at a lower
// one (nice 10): what is measured is the balancer, not the prober waiting for a CPU. With --pin the balancer
// runs on CPU 1 and everything else on CPU 0 (only on a machine with nothing else to do).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RENDERERS } from '../src/render/index.js';
import { parseSpec } from '../src/spec/load.js';
import { serverAddress } from './health/listeners.js';
import { median } from './lb/parse.js';
import { sleep } from './lb/measure.js';
import { canPin, commandExists, ProcessGroup, type Started } from './lb/processes.js';
import { writeBenchmarkSection } from './section.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli/main.js');
const LISTENERS = join(ROOT, 'dist/bench/health/listeners.js');
const HAMMER = join(ROOT, 'dist/bench/admin/hammer.js');
const PROBER = join(ROOT, 'dist/bench/admin/prober.js');
const WATCHDOG_MS = 15 * 60_000;
/** The commit before issue 24: the admin surface formatted every answer from a fresh snapshot on the event loop. */
const DEFAULT_BEFORE = 'f0e5843';
const PROBE_RATE = 100;

const { values } = parseArgs({
  options: {
    servers: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    clients: { type: 'string', default: '4,32' },
    path: { type: 'string', default: '/metrics' },
    before: { type: 'string', default: DEFAULT_BEFORE },
    'no-before': { type: 'boolean', default: false },
    'no-haproxy': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    pin: { type: 'boolean', default: false },
  },
});
const SERVERS = Number(values.servers);
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const CLIENTS = [0, ...values.clients.split(',').map(Number)];
if (!(SERVERS >= 1 && SERVERS <= 2000) || !(SECONDS >= 2 && SECONDS <= 60) || !(ROUNDS >= 1 && ROUNDS <= 5) || CLIENTS.some((c) => !(c >= 0 && c <= 64))) {
  throw new Error('--servers 1..2000, --seconds 2..60, --rounds 1..5, --clients N,N (0..64)');
}
const PINNED = values.pin && canPin();
/** nice(1) values, only as root (a negative one needs it). */
const NICE = process.getuid?.() === 0 ? { urgent: ['nice', '-n', '-10'], background: ['nice', '-n', '10'] } : { urgent: [], background: [] };
/** The balancer's CPU with --pin, and everything else's. */
const CPU = PINNED ? { balancer: 1, others: 0 } : { balancer: undefined, others: undefined };
const say = (text: string) => process.stdout.write(`${text}\n`);
const group = new ProcessGroup(PINNED);

function start(name: string, argv: string[], cpu: number | undefined, logFile: string): Started & { output(): string } {
  writeFileSync(logFile, '');
  const started = group.start(name, argv[0], argv.slice(1), { cpu, logFile, cwd: ROOT });
  return { ...started, output: () => readFileSync(logFile, 'utf8') };
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, stepMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve().then(fn).catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(stepMs);
  }
}

/** serve as of `ref`, compiled from `git archive` into a temporary directory; returns its CLI. */
function buildRef(ref: string, dir: string): string {
  const commit = execFileSync('git', ['rev-parse', '--short', `${ref}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim();
  const tree = join(dir, `serve-${commit}`);
  execFileSync('mkdir', ['-p', tree]);
  execFileSync('bash', ['-c', `git archive ${commit} | tar -x -C ${tree}`], { cwd: ROOT });
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'));
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: tree, stdio: 'inherit' });
  return join(tree, 'dist/src/cli/main.js');
}

interface Probe { count: number; failures: number; p50: number; p99: number; max: number }
interface Hammer { requests: number; bytes: number; statuses: Record<string, number>; errors: number }
interface Sample { variant: string; clients: number; round: number; probe: Probe; hammer?: Hammer }

function specText(port: number, serverPort: number, adminPort: number): string {
  const nodes = Array.from({ length: SERVERS }, (_, i) => `  - { name: n${String(i + 1).padStart(4, '0')}, address: ${serverAddress(i)} }`).join('\n');
  return `# Written by bench/admin-hammered.ts
cluster: { name: bench }
endpoint: 127.0.0.1
controlPlane:
${nodes}
listeners:
  - { name: kubernetes, port: ${port}, targetPort: ${serverPort}, targets: controlPlane }
healthCheck: { type: tcp, interval: 10s, timeout: 2s, healthyThreshold: 2, unhealthyThreshold: 2 }
balancer: { bind: 127.0.0.1, admin: '127.0.0.1:${adminPort}', watch: false, maxConnections: 2000 }
`;
}

async function freePorts(count: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => resolve(s)); })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Runs the prober (and the hammer, with clients > 0) against a running balancer. */
async function measure(dir: string, tag: string, port: number, adminUrl: string, clients: number): Promise<{ probe: Probe; hammer?: Hammer }> {
  let hammer: (Started & { output(): string }) | undefined;
  if (clients > 0) {
    hammer = start(`hammer-${tag}`, [...NICE.background, process.execPath, HAMMER, adminUrl, values.path, String(clients), String(SECONDS + 2)], CPU.others, join(dir, `hammer-${tag}.log`));
    await until('the hammer', () => hammer!.output().includes('hammering') || undefined, 10_000, 50);
    await sleep(1000);
  }
  const prober = start(`prober-${tag}`, [...NICE.urgent, process.execPath, PROBER, String(port), String(PROBE_RATE), String(SECONDS)], CPU.others, join(dir, `prober-${tag}.log`));
  await prober.exited;
  const probe = JSON.parse(prober.output().trim().split('\n').pop() ?? '{}') as Probe;
  let tally: Hammer | undefined;
  if (hammer) {
    await hammer.exited;
    tally = JSON.parse(hammer.output().trim().split('\n').pop() ?? '{}') as Hammer;
  }
  return { probe, hammer: tally };
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const loadBefore = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), 'ce-admin-bench-'));
  const watchdog = setTimeout(() => { say('bench: watchdog fired; stopping'); group.killAllNow(); process.exit(1); }, WATCHDOG_MS);
  const haproxy = !values['no-haproxy'] && commandExists('haproxy');
  if (!values['no-haproxy'] && !haproxy) say('haproxy is not installed: no anchor (Debian: apt-get install haproxy)');
  let ok = false;
  try {
    if (PINNED) spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    if (!PINNED && values.pin) say('--pin: taskset or a second CPU is missing; not pinning');
    const variants: Array<{ name: string; cli?: string }> = [{ name: 'ours', cli: CLI }];
    let beforeCommit: string | undefined;
    if (!values['no-before']) {
      say(`building serve as of ${values.before} …`);
      const cli = buildRef(values.before, dir);
      beforeCommit = execFileSync('git', ['rev-parse', '--short', `${values.before}^{commit}`], { cwd: ROOT, encoding: 'utf8' }).trim();
      variants.push({ name: 'before', cli });
    }
    if (haproxy) variants.push({ name: 'haproxy' });
    const [port, adminPort] = await freePorts(2);
    const listeners = start('listeners', [...NICE.urgent, process.execPath, LISTENERS, String(SERVERS), '0', '--greet'], CPU.others, join(dir, 'listeners.log'));
    const serverPort = await until('the listeners', () => Number(/listening (\d+)/.exec(listeners.output())?.[1]) || undefined, 60_000);
    const spec = specText(port, serverPort, adminPort);
    writeFileSync(join(dir, 'endpoint.yaml'), spec);
    const parsed = parseSpec(spec, 'endpoint.yaml');
    if (!parsed.spec) throw new Error(`bench spec invalid: ${JSON.stringify(parsed.problems.slice(0, 3))}`);
    const rendered = RENDERERS.haproxy.render(parsed.spec, { version: 'bench', specName: 'endpoint.yaml' })[0].contents
      .split('\n').filter((l) => !/^\s*(stats socket|chroot|user |group |log \/dev\/log)/.test(l)).join('\n');
    writeFileSync(join(dir, 'haproxy.cfg'), rendered);
    const adminUrl = `http://127.0.0.1:${adminPort}`;

    const samples: Sample[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 === 1 ? variants : [...variants].reverse();
      for (const variant of order) {
        const tag = `${variant.name}-${round}`;
        const proc = variant.cli
          ? start(variant.name, [process.execPath, variant.cli, 'serve', '-c', join(dir, 'endpoint.yaml')], CPU.balancer, join(dir, `${tag}.log`))
          : start('haproxy', ['haproxy', '-db', '-f', join(dir, 'haproxy.cfg')], CPU.balancer, join(dir, `${tag}.log`));
        try {
          if (variant.cli) {
            await until(`${variant.name}: every server up`, async () => {
              if (proc.hasExited()) throw new Error(`${variant.name} exited: ${proc.output().slice(-2000)}`);
              const status = (await (await fetch(`${adminUrl}/api/status`)).json()) as { listeners: { servers: { state: string }[] }[] };
              return status.listeners[0].servers.every((s) => s.state === 'up') || undefined;
            }, 90_000, 1000);
          } else {
            await until('haproxy: /metrics', async () => (await fetch(`${adminUrl}/metrics`)).ok || undefined, 30_000, 500);
          }
          await sleep(2000);
          for (const clients of CLIENTS) {
            const result = await measure(dir, `${tag}-${clients}`, port, adminUrl, clients);
            samples.push({ variant: variant.name, clients, round, ...result });
            const served = result.hammer ? `, ${(result.hammer.requests / (SECONDS + 2)).toFixed(0)} admin answers/s (${Object.entries(result.hammer.statuses).map(([s, n]) => `${s}×${n}`).join(' ')})` : '';
            say(`round ${round} ${variant.name.padEnd(7)} ${String(clients).padStart(2)} clients: new connections p50 ${result.probe.p50.toFixed(1)} ms, p99 ${result.probe.p99.toFixed(1)} ms, max ${result.probe.max.toFixed(0)} ms, ${result.probe.failures} failed${served}`);
          }
        } finally {
          await group.stop(proc, 8000);
        }
      }
    }
    await group.stop(listeners, 8000);
    const section = report(samples, variants.map((v) => v.name), { beforeCommit, loadBefore, durationS: (Date.now() - startedAt) / 1000 });
    say(`\n${section}`);
    if (!values['no-write']) {
      writeBenchmarkSection(join(ROOT, 'BENCHMARKS.md'), 'admin', section);
      say('wrote BENCHMARKS.md (admin section)');
    }
    ok = true;
  } finally {
    clearTimeout(watchdog);
    group.killAllNow();
    if (ok) rmSync(dir, { recursive: true, force: true });
    else say(`logs and configs kept in ${dir}`);
  }
}

function report(samples: Sample[], variants: string[], r: { beforeCommit?: string; loadBefore: number; durationS: number }): string {
  const pick = (variant: string, clients: number) => samples.filter((s) => s.variant === variant && s.clients === clients);
  const med = (xs: Sample[], f: (s: Sample) => number) => (xs.length ? median(xs.map(f)) : Number.NaN);
  const ms = (v: number) => (Number.isNaN(v) ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
  const label: Record<string, string> = { ours: 'serve (ours)', before: `serve before (${r.beforeCommit ?? '—'})`, haproxy: 'HAProxy 2.6 (promex)' };
  const rows: string[] = [];
  for (const clients of CLIENTS) {
    for (const variant of variants) {
      const xs = pick(variant, clients);
      const answers = clients > 0 ? med(xs, (s) => (s.hammer?.requests ?? 0) / (SECONDS + 2)) : Number.NaN;
      const refused = clients > 0 ? med(xs, (s) => ((s.hammer?.statuses['429'] ?? 0) + (s.hammer?.statuses['503'] ?? 0)) / (SECONDS + 2)) : Number.NaN;
      rows.push(`| ${clients === 0 ? 'idle' : `${clients} clients`} | ${label[variant]} | ${ms(med(xs, (s) => s.probe.p50))} | ${ms(med(xs, (s) => s.probe.p99))} | ${ms(med(xs, (s) => s.probe.max))} | ${med(xs, (s) => s.probe.failures)} | ${Number.isNaN(answers) ? '—' : answers.toFixed(0)} | ${Number.isNaN(refused) ? '—' : refused.toFixed(0)} |`);
    }
  }
  const ratio = (a: string, b: string, clients: number) => {
    const x = med(pick(a, clients), (s) => s.probe.p99);
    const y = med(pick(b, clients), (s) => s.probe.p99);
    return Number.isNaN(x) || Number.isNaN(y) ? '—' : (x / y).toFixed(2);
  };
  const ratios = CLIENTS.map((c) => `| ${c === 0 ? 'idle' : `${c} clients`} | ${variants.includes('before') ? ratio('ours', 'before', c) : '—'} | ${variants.includes('haproxy') ? ratio('ours', 'haproxy', c) : '—'} |`);
  const lines = [
    '## New connections while the admin surface is hammered (issue 24, item 5)',
    '',
    `Measured ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')} with \`npm run bench:admin${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` (took ${r.durationS.toFixed(0)} s).`,
    '',
    `- ${SERVERS.toLocaleString('en-US')} servers on loopback (127.10.x.y, one process that greets and closes), one listener, tcp checks every 10 s. HAProxy runs the config \`render haproxy\` writes from the same spec (its \`/metrics\` is the built-in Prometheus exporter), one thread.`,
    `- Hammered: N clients, each polling \`GET ${values.path}\` back to back on its own keep-alive connection (a 429 is retried after its Retry-After). Measured: ${PROBE_RATE} new client connections per second through the balancer for ${SECONDS} s, each timed from connect() to the server's first byte; p50, p99 and the worst of ${PROBE_RATE * SECONDS}.`,
    `- ${PINNED ? 'The balancer under test on CPU 1; the servers, clients and prober on CPU 0' : 'No CPU pinning (this machine is shared: a pinned CPU can be taken by others)'}; ${NICE.urgent.length ? 'the prober and the servers at nice -10, the hammering clients at nice 10, the balancer at 0' : 'no priorities (not root)'}. ${ROUNDS} round(s), the order of the three alternating; medians over rounds.`,
    `- Machine: ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), Node ${process.version}; 1-minute load average ${r.loadBefore.toFixed(2)} before the run, ${loadavg()[0].toFixed(2)} after (other work shares this machine).`,
    '',
    '| Admin load | Balancer | New conn. p50, ms | p99, ms | worst, ms | failed | admin answers/s | of which 429/s |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    'p99 of new connections, ratios (lower is better for ours):',
    '',
    '| Admin load | ours / before | ours / HAProxy |',
    '|---|---:|---:|',
    ...ratios,
    '',
    'What limits the figures: the clients, the prober and the servers run on the same two CPUs as the balancer, and so',
    'does whatever else this machine runs (see the load average): the idle rows are the floor of each run, and serve\'s',
    'idle p99 is itself a few times HAProxy\'s here. A connection that got no first byte within 10 s counts as failed',
    'and as 10,000 ms. What serve does now (docs/admin-api.md#limits): each output is made at most once a second and',
    'shared by every client that asks meanwhile, formatted in slices of at most 4 ms that let connections through,',
    'sent 64 KiB at a time; each client address has 2 requests in progress (more wait their turn, then 429) and',
    'is sent at most 8 MiB/s — which is why its clients get fewer answers per second than before.',
  ];
  return `${lines.join('\n')}\n`;
}

main().catch((error: unknown) => {
  say(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
  group.killAllNow();
  process.exit(1);
});
