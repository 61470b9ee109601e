// The kernel data plane against the direct path, the proxy and HAProxy, in network namespaces, in
// interleaved rounds; and the client-visible failures across a backend kill in both of our modes.
//
//   npm run bench:kernel [-- --quick] [--rounds N] [--seconds S] [--no-write] [--anchor COMMIT] [--only kernel]
//
// --anchor COMMIT adds "kernel (client IP kept), anchor" and "kernel (SNAT), anchor": serve as built from COMMIT
// (f0e5843 for issue 20: the code before passive health) in the same interleaved rounds, and reports our
// new-connection rate over the anchor's round by round: two runs on two checkouts swing more between them than
// the few percent under test. COMMIT is checked out once in a temporary git worktree outside the repository
// (node_modules shared with ours) and built as ours is (tsc to dist/); the worktree is removed at the end, also
// on failure or Ctrl-C. The anchor takes only the new-connection load (balancer CPU with it), not the backend kill.
// --only kernel runs only the direct path and the kernel variants (ours, and the anchor's), with only the
// new-connection load and (ours) the backend kill: the issue-20 comparison, in about a third of the time. It
// writes its own section of BENCHMARKS.md (bench:kernel-only), so the full run's section stays.
//
// Topology (test/helpers/lab.ts): client ─ front ─ lb ─ back ─ cp-01, cp-02 (nginx), wk-01 (iperf3 -s).
// Every variant answers on the balancer's front address; "direct" goes to the backend itself, routed
// through the balancer's namespace without any NAT: the same hops, no balancer. "direct + conntrack" is the
// same path with connection tracking on in the balancer's namespace (a table of the bench's own that only
// accepts tracked flows): it separates what conntrack itself costs from what our rules add.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { adminGet } from '../test/helpers/lab-peers.js';
import { Lab } from '../test/helpers/lab.js';
import { bulkThroughput, cpuBusyTicks, sleep, until, withCpu, wrk, type LoadContext } from './lb/measure.js';
import { median } from './lb/parse.js';
import { canPin, clockTicksPerSecond, commandExists, cpuTicks, processTree, ProcessGroup, type Started } from './lb/processes.js';
import { writeBenchmarkSection } from './section.js';
import type { StatusSnapshot } from '../src/runtime/snapshot.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BENCHMARKS_FILE = join(ROOT, 'BENCHMARKS.md');
const WATCHDOG_MS = 25 * 60_000;

// Each anchor variant right after ours: the rotation keeps the two next to each other in most rounds.
const VARIANTS = ['direct', 'direct + conntrack', 'kernel (client IP kept)', 'kernel (client IP kept), anchor', 'kernel (SNAT)', 'kernel (SNAT), anchor', 'proxy', 'haproxy'] as const;
type Variant = typeof VARIANTS[number];
const KERNEL = ['kernel (client IP kept)', 'kernel (SNAT)'] as const;
const anchorOf = (variant: typeof KERNEL[number]) => `${variant}, anchor` as const;
const isAnchor = (variant: Variant) => variant.endsWith(', anchor');
const PORTS = { http1: 7080, http2: 7081, bulk: 7201, nginx: 80, iperf: 5201, admin: 8404 } as const;
const CHECK = { interval: '2s', timeout: '1s', rise: 2, fall: 2 };

interface Figures { bulkUpGbps: number; bulkDownGbps: number; newPerS: number; keepAliveRps: number; p99Ms: number; ourCpu?: number; balancerCpuBusy: number; watcherCpu?: number }
interface Kill { failures: number; attempts: number; slowest: number; retried: number; inFlight: number }

class KernelBench {
  readonly group: ProcessGroup;
  readonly dir = mkdtempSync(join(tmpdir(), 'ce-bench-kernel-'));
  readonly pinned = canPin();
  lab!: Lab;
  ctx!: LoadContext;

  constructor(readonly seconds: number, readonly anchor?: Anchor) {
    this.group = new ProcessGroup(this.pinned);
  }

  ns(host: string): string {
    return this.lab.host(host).ns;
  }

  addr(host: string, segment = 'back'): string {
    return this.lab.addressOf(host, segment);
  }

  async setUp(): Promise<void> {
    for (const tool of ['nft', 'conntrack', 'haproxy', 'nginx', 'iperf3', 'wrk']) {
      if (!commandExists(tool)) throw new Error(`${tool} is not installed`);
    }
    if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('run `npm run build` first');
    this.lab = await Lab.create({
      segments: { front: 1, back: 2 },
      hosts: { client: { front: 2 }, lb: { front: 1, back: 1 }, 'cp-01': { back: 11 }, 'cp-02': { back: 12 }, 'wk-01': { back: 41 } },
    }, 'cebk');
    await this.lab.sysctl('lb', 'net.ipv4.ip_forward=1');
    // The proxies connect out from the balancer's own address thousands of times a second: as on any LB host,
    // let them reuse ports in TIME_WAIT, or a variant that runs after another finds the ports used up.
    await this.lab.sysctl('lb', 'net.ipv4.tcp_tw_reuse=1');
    await this.lab.sysctl('lb', 'net.ipv4.ip_local_port_range=1024 65000');
    if (this.pinned) {
      // A veth hands a packet to its peer on the sending CPU: without this, the balancer host's forwarding
      // would run on the load generators' CPU while serve and HAProxy have CPU 1 to themselves. Receive
      // Packet Steering gives the balancer's namespace CPU 1 for every variant, as an LB host has its own.
      for (const { name } of this.lab.host('lb').interfaces) await this.lab.exec('lb', ['sh', '-c', `echo 2 > /sys/class/net/${name}/queues/rx-0/rps_cpus`]);
    }
    for (const host of ['cp-01', 'cp-02', 'wk-01']) await this.lab.defaultRoute(host, 'lb');
    // One client address cycles through its ports thousands of times a second, so it reuses a 4-tuple
    // while the side that closed first (nginx, or HAProxy and the proxy towards the client) still holds it
    // in TIME_WAIT (60 s); a SYN that meets one is answered with an old ACK and waits out a 1 s
    // retransmission. Which variant met them depended on the variants before it (rounds swung from 200 to
    // 8,000 connections/s, HAProxy's most of all). No client population of an endpoint reuses tuples like
    // that: no host of the bench keeps TIME_WAIT, for every variant alike.
    for (const host of ['client', 'lb', 'cp-01', 'cp-02', 'wk-01']) await this.lab.sysctl(host, 'net.ipv4.tcp_max_tw_buckets=0');
    // Conntrack forgets a closed flow after 1 s instead of 120 s, for every variant alike: the balancer then deletes
    // flows at the rate it creates them, as it does in a steady state, and the cost of the destroy events kernel
    // mode's passive health follows (one per flow) is in the figures of a run that lasts seconds.
    await this.lab.sysctl('lb', 'net.netfilter.nf_conntrack_tcp_timeout_time_wait=1');
    await this.lab.defaultRoute('client', 'lb');
    this.ctx = {
      group: this.group, loadCpu: this.pinned ? 0 : undefined, proxyCpu: this.pinned ? 1 : undefined, tempDir: this.dir,
      distBench: fileURLToPath(new URL('.', import.meta.url)), nofile: 20_000, seconds: this.seconds,
      clockTicksPerSecond: clockTicksPerSecond(),
      wrap: ['ip', 'netns', 'exec', this.ns('client')],
    };
    for (const host of ['cp-01', 'cp-02', 'wk-01']) this.startNginx(host);
    this.group.start('iperf3-server', 'ip', ['netns', 'exec', this.ns('wk-01'), 'iperf3', '-s', '-p', String(PORTS.iperf)], { cpu: this.ctx.loadCpu, logFile: join(this.dir, 'iperf3.log') });
    const ready = await until(() => ['cp-01', 'cp-02', 'wk-01'].every((h) => this.#httpOk(this.addr(h), PORTS.nginx)), 15_000, 200);
    if (!ready) throw new Error(`nginx did not start; logs in ${this.dir}`);
    writeFileSync(join(this.dir, 'haproxy.cfg'), this.haproxyConfig());
  }

  nginx = new Map<string, Started>();

  startNginx(host: string): void {
    const conf = join(this.dir, `nginx-${host}.conf`);
    writeFileSync(conf, `daemon off;\nmaster_process off;\nworker_processes 1;\npid ${this.dir}/nginx-${host}.pid;\nerror_log ${this.dir}/nginx-${host}-error.log warn;\nevents { worker_connections 8192; }\nhttp {\n  access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 300s;\n  server {\n    listen ${this.addr(host)}:${PORTS.nginx} backlog=4096 reuseport;\n    location / { return 200 '${host}\\n'; }\n  }\n}\n`);
    this.nginx.set(host, this.group.start(`nginx-${host}`, 'ip', ['netns', 'exec', this.ns(host), 'nginx', '-c', conf, '-p', this.dir], { cpu: this.ctx.loadCpu, logFile: join(this.dir, `nginx-${host}.log`) }));
  }

  #httpOk(host: string, port: number): boolean {
    return spawnSync('ip', ['netns', 'exec', this.ns('client'), 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && head -c 12 <&3`], { encoding: 'utf8', timeout: 2000 }).stdout.startsWith('HTTP/1.1 200');
  }

  spec(mode: 'kernel' | 'proxy', preserveClientIp: boolean): string {
    const endpoint = this.addr('lb', 'front');
    return `cluster: { name: bench }
endpoint: ${endpoint}
controlPlane:
  - { name: cp-01, address: ${this.addr('cp-01')} }
  - { name: cp-02, address: ${this.addr('cp-02')} }
workers:
  - { name: wk-01, address: ${this.addr('wk-01')} }
listeners:
  - { name: http1, port: ${PORTS.http1}, targetPort: ${PORTS.nginx}, targets: workers }
  - { name: http2, port: ${PORTS.http2}, targetPort: ${PORTS.nginx}, targets: controlPlane }
  - { name: bulk, port: ${PORTS.bulk}, targetPort: ${PORTS.iperf}, targets: workers }
healthCheck: { type: tcp, interval: ${CHECK.interval}, timeout: ${CHECK.timeout}, healthyThreshold: ${CHECK.rise}, unhealthyThreshold: ${CHECK.fall} }
deregistrationDelay: 1s
balancer:
  mode: ${mode}
${mode === 'kernel' ? `  preserveClientIp: ${preserveClientIp}\n` : ''}  bind: ${endpoint}
  admin: 127.0.0.1:${PORTS.admin}
  watch: false
`;
  }

  haproxyConfig(): string {
    const bind = this.addr('lb', 'front');
    const check = `check inter ${CHECK.interval} fastinter ${CHECK.interval} rise ${CHECK.rise} fall ${CHECK.fall} on-marked-down shutdown-sessions`;
    return `global\n    nbthread 1\n    maxconn 8000\ndefaults\n    mode tcp\n    balance roundrobin\n    retries 2\n    option redispatch\n    timeout connect 10s\n    timeout client 1h\n    timeout server 1h\n    timeout check ${CHECK.timeout}\n
frontend http1\n    bind ${bind}:${PORTS.http1}\n    default_backend http1\nbackend http1\n    server wk-01 ${this.addr('wk-01')}:${PORTS.nginx} ${check}\n
frontend http2\n    bind ${bind}:${PORTS.http2}\n    default_backend http2\nbackend http2\n    server cp-01 ${this.addr('cp-01')}:${PORTS.nginx} ${check}\n    server cp-02 ${this.addr('cp-02')}:${PORTS.nginx} ${check}\n
frontend bulk\n    bind ${bind}:${PORTS.bulk}\n    default_backend bulk\nbackend bulk\n    server wk-01 ${this.addr('wk-01')}:${PORTS.iperf} check inter ${CHECK.interval}\n`;
  }

  /** Starts the balancer of a variant in the lb namespace (none for direct); resolves when it carries traffic. */
  async start(variant: Variant): Promise<Started | undefined> {
    if (variant === 'direct') return undefined;
    if (variant === 'direct + conntrack') {
      await this.lab.exec('lb', ['nft', 'add table inet ce_bench_conntrack; add chain inet ce_bench_conntrack forward { type filter hook forward priority filter; policy accept; ct state established,related accept; }']);
      return undefined;
    }
    const root = isAnchor(variant) ? this.anchor!.dir : ROOT;
    const common = { cpu: this.ctx.proxyCpu, logFile: join(this.dir, `${variant.replace(/\W+/g, '-')}.log`), cwd: root };
    let started: Started;
    if (variant === 'haproxy') {
      started = this.group.start('haproxy', 'ip', ['netns', 'exec', this.ns('lb'), 'haproxy', '-db', '-f', join(this.dir, 'haproxy.cfg')], common);
    } else {
      const kernel = variant.startsWith('kernel');
      writeFileSync(join(this.dir, 'endpoint.yaml'), this.spec(kernel ? 'kernel' : 'proxy', variant.startsWith('kernel (client IP kept)')));
      started = this.group.start('serve', 'ip', ['netns', 'exec', this.ns('lb'), process.execPath, join(root, 'dist/src/cli/main.js'), 'serve', '-c', join(this.dir, 'endpoint.yaml')], common);
      const up = await until(async () => {
        if (started.hasExited()) throw new Error(`serve exited; see ${common.logFile}`);
        const status = await adminGet<StatusSnapshot>(this.lab, 'lb', `http://127.0.0.1:${PORTS.admin}/api/status`).catch(() => undefined);
        return status?.listeners.every((l) => l.servers.every((s) => s.state === 'up')) ?? false;
      }, 30_000, 300);
      if (!up) throw new Error(`serve (${variant}) did not get every server up`);
    }
    const front = this.addr('lb', 'front');
    if (!(await until(() => this.#httpOk(front, PORTS.http1) && this.#httpOk(front, PORTS.http2), 20_000, 200))) throw new Error(`${variant}: no request got through`);
    return started;
  }

  target(variant: Variant): { http: string; bulkHost: string; bulkPort: number } {
    if (variant.startsWith('direct')) return { http: `http://${this.addr('wk-01')}:${PORTS.nginx}/`, bulkHost: this.addr('wk-01'), bulkPort: PORTS.iperf };
    const front = this.addr('lb', 'front');
    return { http: `http://${front}:${PORTS.http1}/`, bulkHost: front, bulkPort: PORTS.bulk };
  }

  /** full: bulk both ways and keep-alive too; otherwise only the new-connection load (the rest is NaN). */
  async measure(variant: Variant, started: Started | undefined, notes: string[], full: boolean): Promise<Figures> {
    const t = this.target(variant);
    const cpuOf = async <T>(fn: () => Promise<T>) => (started ? withCpu(this.ctx, started.pid, fn) : { value: await fn(), cpuPercent: Number.NaN });
    const up = full ? await cpuOf(() => bulkThroughput(this.ctx, t.bulkHost, t.bulkPort, false, notes)) : { value: Number.NaN, cpuPercent: Number.NaN };
    const down = full ? await bulkThroughput(this.ctx, t.bulkHost, t.bulkPort, true, notes) : Number.NaN;
    // How busy the balancer's CPU is under the new-connection load, whoever uses it (process or softirq).
    const busyBefore = this.ctx.proxyCpu === undefined ? 0 : cpuBusyTicks(this.ctx.proxyCpu, true);
    const freshStarted = Date.now();
    // Passive health's conntrack -E (kernel mode): its own share, within "our CPU".
    const watcher = started ? processTree(started.pid).find((pid) => /^conntrack\0-E\0/.test(readCmdline(pid))) : undefined;
    const watcherBefore = watcher === undefined ? 0 : cpuTicks(watcher);
    const fresh = await cpuOf(() => wrk(this.ctx, t.http, ['-H', 'Connection: close']));
    const watcherCpu = watcher === undefined ? undefined : ((cpuTicks(watcher) - watcherBefore) / this.ctx.clockTicksPerSecond / ((Date.now() - freshStarted) / 1000)) * 100;
    const balancerCpuBusy = this.ctx.proxyCpu === undefined ? Number.NaN : ((cpuBusyTicks(this.ctx.proxyCpu, true) - busyBefore) / this.ctx.clockTicksPerSecond / ((Date.now() - freshStarted) / 1000)) * 100;
    const keep = full ? await wrk(this.ctx, t.http, ['--latency']) : undefined;
    const errors = fresh.value.errors + (keep?.errors ?? 0);
    if (errors > 0) notes.push(`${variant}: ${errors} wrk errors`);
    const ourCpu = full ? Math.max(up.cpuPercent, fresh.cpuPercent) : fresh.cpuPercent;
    return { bulkUpGbps: up.value, bulkDownGbps: down, newPerS: fresh.value.requestsPerSecond, keepAliveRps: keep?.requestsPerSecond ?? Number.NaN, p99Ms: keep?.p99Ms ?? Number.NaN, ourCpu, balancerCpuBusy, ...(watcherCpu !== undefined ? { watcherCpu } : {}) };
  }

  /**
   * Client-visible failures across a backend kill: a new HTTP connection every 10 ms to the two-server
   * listener, each with 5 s to connect and answer (a client's connect timeout, long enough for a SYN
   * retransmission); nginx on cp-02 is SIGKILLed (its port refuses at once) and the failed requests are counted
   * until 8 s later, with the slowest answer and how many waited for a retransmission. Then nginx comes back and
   * the balancer is given time to see it.
   */
  async killFailures(): Promise<Kill> {
    const front = this.addr('lb', 'front');
    const prober = this.group.start('prober', 'ip', ['netns', 'exec', this.ns('client'), process.execPath, '-e', PROBER, front, String(PORTS.http2), '10', '9000', '5000'], { cpu: this.ctx.loadCpu, logFile: join(this.dir, 'prober.log'), pipeStdout: true });
    let out = '';
    prober.child.stdout!.on('data', (d: Buffer) => { out += d; });
    await sleep(1000);
    this.group.start('kill', 'ip', ['netns', 'exec', this.ns('cp-02'), 'kill', '-9', String(this.nginxPid('cp-02'))], { logFile: join(this.dir, 'kill.log') });
    await prober.exited;
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ok: boolean; start: number; ms: number; connected: boolean; answered: boolean; error: string });
    this.startNginx('cp-02');
    await until(() => this.#httpOk(this.addr('cp-02'), PORTS.nginx), 10_000, 100);
    // Two checks at 2 s for the balancer to take it back.
    await sleep(5000);
    const answered = lines.filter((l) => l.ok).map((l) => l.ms);
    // A request the server had accepted when it died (connected, reset before any answer): no kernel balancer can replay it.
    const inFlight = lines.filter((l) => !l.ok && l.connected && !l.answered && l.error === 'ECONNRESET').length;
    return { failures: lines.filter((l) => !l.ok).length, attempts: lines.length, slowest: Math.max(0, ...answered), retried: answered.filter((ms) => ms >= 500).length, inFlight };
  }

  nginxPid(host: string): number {
    return Number(readFileSync(join(this.dir, `nginx-${host}.pid`), 'utf8').trim());
  }

  async stop(variant: Variant, started: Started | undefined, notes: string[]): Promise<void> {
    if (started) await this.group.stop(started, 10_000);
    await this.lab.exec('lb', ['nft', 'delete table inet ce_bench_conntrack']).catch(() => undefined);
    // serve deletes its table when it stops; one left behind (a crash, or another version's serve) would still
    // translate the next variant's packets.
    for (const [, family, table] of (await this.lab.exec('lb', ['nft', 'list', 'tables'])).matchAll(/^table (\S+) (cluster_endpoint\S*)$/gm)) {
      notes.push(`${variant} left its table ${family} ${table} behind; deleted`);
      await this.lab.exec('lb', ['nft', 'delete', 'table', family, table]);
    }
    // Tracked flows outlive the table; the next variant starts with none.
    await this.lab.exec('lb', ['conntrack', '-F']).catch(() => undefined);
  }

  async close(keepLogs = false): Promise<void> {
    await this.group.stopAll(3000);
    await this.lab?.cleanup();
    if (keepLogs) process.stderr.write(`bench: logs kept in ${this.dir}\n`);
    else rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * serve as another commit builds it, for the anchor variants: a detached git worktree in a temporary directory
 * (outside the repository, so neither tsc nor git status of ours sees it), node_modules shared with ours, built
 * as ours is (tsc to dist/, run with node).
 */
class Anchor {
  readonly commit: string;
  /** "f0e5843 refactor(test): …", for the report. */
  readonly label: string;
  readonly parent: string;
  readonly dir: string;

  constructor(ref: string) {
    const resolved = git(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
    if (resolved.status !== 0) throw new Error(`--anchor ${ref}: not a commit of this repository (git rev-parse found nothing)`);
    this.commit = resolved.stdout.trim();
    this.label = git(['log', '-1', '--format=%h %s', this.commit]).stdout.trim();
    this.parent = mkdtempSync(join(tmpdir(), 'ce-bench-anchor-'));
    this.dir = join(this.parent, 'worktree');
  }

  #tsc?: ChildProcess;

  async build(logDir: string): Promise<void> {
    const added = git(['worktree', 'add', '--detach', this.dir, this.commit]);
    if (added.status !== 0) throw new Error(`--anchor: git worktree add failed: ${added.stderr.trim()}`);
    symlinkSync(join(ROOT, 'node_modules'), join(this.dir, 'node_modules'));
    // The tsc `npx tsc` runs (ours, linked), without npx's fallback to the registry; in a process group of its own:
    // its launcher runs the compiler as a child and does not pass signals on, so remove() stops the whole group
    // (else the compiler writes on into the removed worktree).
    const logFile = join(logDir, 'anchor-build.log');
    const log = openSync(logFile, 'a');
    try {
      this.#tsc = spawn(join(this.dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: this.dir, detached: true, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const code = await new Promise<number | null>((resolve) => this.#tsc!.once('exit', resolve).once('error', () => resolve(-1)));
    if (code !== 0 || !existsSync(join(this.dir, 'dist/src/cli/main.js'))) throw new Error(`--anchor: building ${this.label} failed; see ${logFile}`);
  }

  /** Synchronous, so that the SIGINT handler and the watchdog can call it too; idempotent. */
  remove(): void {
    if (this.#tsc?.pid !== undefined && this.#tsc.exitCode === null && this.#tsc.signalCode === null) {
      try { process.kill(-this.#tsc.pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
    }
    // Our node_modules is only linked: unlink it first, so nothing below can reach into it.
    rmSync(join(this.dir, 'node_modules'), { force: true });
    git(['worktree', 'remove', '--force', this.dir]);
    git(['worktree', 'prune']);
    rmSync(this.parent, { recursive: true, force: true });
  }
}

function git(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' });
}

/** node -e: a new connection every INTERVAL ms for DURATION ms, each a GET with TIMEOUT ms; one JSON line per attempt. */
const PROBER = `
const net = require('node:net');
const [host, port, interval, duration, timeout] = process.argv.slice(1);
const stopAt = Date.now() + Number(duration);
const once = () => new Promise((resolve) => {
  const s = net.connect({ host, port: Number(port) });
  let reply = '', connected = false, error = '';
  const t = setTimeout(() => { error = 'timeout'; s.destroy(); }, Number(timeout));
  s.on('connect', () => { connected = true; s.write('GET / HTTP/1.0\\r\\n\\r\\n'); });
  s.on('data', (d) => { reply += d; });
  s.on('error', (e) => { error = e.code || e.message; });
  s.on('close', () => { clearTimeout(t); resolve({ ok: reply.startsWith('HTTP/1.1 200'), connected, answered: reply.length > 0, error }); });
});
// Started on time whatever the others do: one slow connect does not hold back the next.
const tick = setInterval(() => {
  if (Date.now() >= stopAt) { clearInterval(tick); return; }
  const start = Date.now();
  once().then((r) => console.log(JSON.stringify({ start, ms: Date.now() - start, ...r })));
}, Number(interval));
`;

function readCmdline(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return ''; }
}

const fmt = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '—');

async function main(): Promise<number> {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { quick: { type: 'boolean' }, rounds: { type: 'string' }, seconds: { type: 'string' }, 'no-write': { type: 'boolean' }, anchor: { type: 'string' }, only: { type: 'string' } } });
  if (values.only !== undefined && values.only !== 'kernel') throw new Error(`--only ${values.only}: the one filter is --only kernel (the direct path and the kernel variants)`);
  const onlyKernel = values.only === 'kernel';
  const quick = values.quick ?? false;
  const rounds = Number(values.rounds ?? (quick ? 1 : 3));
  const seconds = Number(values.seconds ?? (quick ? 2 : 5));
  const anchor = values.anchor === undefined ? undefined : new Anchor(values.anchor);
  const variants = VARIANTS.filter((v) => (anchor !== undefined || !isAnchor(v)) && (!onlyKernel || v === 'direct' || v.startsWith('kernel')));
  const bench = new KernelBench(seconds, anchor);
  const startedAt = Date.now();
  const loadBefore = loadavg()[0];
  const stopAll = (code: number) => void bench.close().finally(() => { anchor?.remove(); process.exit(code); });
  // Up to four loads of S seconds and a backend kill per variant and round: twice that before the watchdog bites.
  const watchdogMs = Math.max(WATCHDOG_MS, 2 * rounds * variants.length * (4 * seconds + 30) * 1000);
  const watchdog = setTimeout(() => { process.stderr.write('bench: watchdog; stopping\n'); stopAll(1); }, watchdogMs);
  process.once('SIGINT', () => stopAll(130));
  process.once('SIGTERM', () => stopAll(143));
  const log = (text: string) => process.stdout.write(`${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s ${text}\n`);
  const results = new Map<Variant, Figures[]>(VARIANTS.map((v) => [v, []]));
  const kills = new Map<Variant, Kill[]>();
  const notes: string[] = [];
  let ok = false;
  try {
    if (anchor) {
      log(`anchor: building ${anchor.label} in ${anchor.dir}`);
      await anchor.build(bench.dir);
    }
    await bench.setUp();
    for (let round = 1; round <= rounds; round++) {
      // Rotate the order every round, so no variant always runs first or last.
      const order = variants.map((_, i) => variants[(i + round - 1) % variants.length]);
      log(`round ${round}/${rounds}: ${order.join(', ')}`);
      for (const variant of order) {
        const started = await bench.start(variant);
        try {
          const figures = await bench.measure(variant, started, notes, !onlyKernel && !isAnchor(variant));
          results.get(variant)!.push(figures);
          log(`  ${variant.padEnd(31)} bulk ${fmt(figures.bulkUpGbps, 2)}/${fmt(figures.bulkDownGbps, 2)} Gbit/s, new ${fmt(figures.newPerS)}/s, keep-alive ${fmt(figures.keepAliveRps)}/s p99 ${fmt(figures.p99Ms, 2)} ms, our CPU ${fmt(figures.ourCpu ?? Number.NaN)} %${figures.watcherCpu !== undefined ? ` (conntrack -E ${fmt(figures.watcherCpu, 1)} %)` : ''}, balancer CPU busy ${fmt(figures.balancerCpuBusy)} %`);
          if ((variant === 'proxy' || (variant.startsWith('kernel') && !isAnchor(variant))) && (!quick || round === 1)) {
            const kill = await bench.killFailures();
            kills.set(variant, [...(kills.get(variant) ?? []), kill]);
            log(`  ${variant.padEnd(31)} backend kill: ${kill.failures} of ${kill.attempts} new connections failed (${kill.inFlight} accepted by the server before it died, then reset), ${kill.retried} answered after a SYN retransmission, slowest ${kill.slowest} ms`);
          }
        } finally {
          await bench.stop(variant, started, notes);
        }
      }
    }
    ok = true;
  } finally {
    clearTimeout(watchdog);
    await bench.close(!ok);
    anchor?.remove();
  }
  const med = (variant: Variant, key: keyof Figures) => median(results.get(variant)!.map((f) => f[key] as number));
  const ratio = (variant: Variant, key: keyof Figures) => med(variant, key) / med('direct', key);
  const rows = variants.map((v) => onlyKernel
    ? `| ${v} | ${fmt(med(v, 'newPerS'))} (${fmt(ratio(v, 'newPerS'), 3)}×) | ${v.startsWith('direct') ? '—' : fmt(med(v, 'ourCpu'))} | ${fmt(med(v, 'balancerCpuBusy'))} |`
    : `| ${v} | ${fmt(med(v, 'bulkUpGbps'), 2)} (${fmt(ratio(v, 'bulkUpGbps'), 3)}×) | ${fmt(med(v, 'bulkDownGbps'), 2)} (${fmt(ratio(v, 'bulkDownGbps'), 3)}×) | ${fmt(med(v, 'newPerS'))} (${fmt(ratio(v, 'newPerS'), 3)}×) | ${fmt(med(v, 'keepAliveRps'))} (${fmt(ratio(v, 'keepAliveRps'), 3)}×) | ${fmt(med(v, 'p99Ms'), 3)} | ${v.startsWith('direct') ? '—' : fmt(med(v, 'ourCpu'))} | ${fmt(med(v, 'balancerCpuBusy'))} |`);
  const perRound = variants.map((v) => `| ${v} | ${results.get(v)!.map((f) => (onlyKernel ? fmt(f.newPerS) : `${fmt(f.bulkUpGbps, 2)}/${fmt(f.bulkDownGbps, 2)} · ${fmt(f.newPerS)} · ${fmt(f.keepAliveRps)}`)).join(' | ')} |`);
  const killRows = [...kills].map(([v, list]) => `| ${v} | ${list.map((k) => `${k.failures} of ${k.attempts}`).join(', ')} | ${list.map((k) => k.failures - k.inFlight).join(', ')} | ${list.map((k) => k.inFlight).join(', ')} | ${list.map((k) => k.retried).join(', ')} | ${list.map((k) => k.slowest).join(', ')} |`);
  // Per flow (one destroy event each), then what 5,000 new flows a second would cost.
  const perFlowUs = (f: Figures) => (f.watcherCpu ?? Number.NaN) / 100 / f.newPerS * 1e6;
  const watcherRows = KERNEL.filter((v) => results.get(v)!.some((f) => f.watcherCpu !== undefined)).map((v) => `${v}: ${results.get(v)!.map((f) => `${fmt(f.watcherCpu ?? Number.NaN, 1)} % at ${fmt(f.newPerS)}/s (${fmt(perFlowUs(f), 1)} µs per flow, ${fmt(perFlowUs(f) * 5000 / 1e4, 1)} % at 5,000/s)`).join(', ')}`);
  const bars = onlyKernel ? KERNEL.map((v) => `${v}: connection rate ${fmt(ratio(v, 'newPerS'), 3)}× the direct path (bar 0.9×: ${ratio(v, 'newPerS') >= 0.9 ? 'pass' : 'FAIL'})`) : [
    KERNEL.map((v) => `${v}: throughput ${fmt(ratio(v, 'bulkUpGbps'), 3)}× / ${fmt(ratio(v, 'bulkDownGbps'), 3)}×, connection rate ${fmt(ratio(v, 'newPerS'), 3)}× the direct path (bar 0.9×: throughput ${ratio(v, 'bulkUpGbps') >= 0.9 && ratio(v, 'bulkDownGbps') >= 0.9 ? 'pass' : 'FAIL'}, connection rate ${ratio(v, 'newPerS') >= 0.9 ? 'pass' : 'FAIL'}); vs HAProxy ${fmt(med(v, 'bulkUpGbps') / med('haproxy', 'bulkUpGbps'), 2)}× throughput, ${fmt(med(v, 'newPerS') / med('haproxy', 'newPerS'), 2)}× connections/s; against the direct path with conntrack on, ${fmt(med(v, 'bulkUpGbps') / med('direct + conntrack', 'bulkUpGbps'), 3)}× / ${fmt(med(v, 'bulkDownGbps') / med('direct + conntrack', 'bulkDownGbps'), 3)}× throughput and ${fmt(med(v, 'newPerS') / med('direct + conntrack', 'newPerS'), 3)}× connections/s (what our rules and NAT add)`).join('\n- '),
    `direct + conntrack: ${fmt(ratio('direct + conntrack', 'bulkUpGbps'), 3)}× / ${fmt(ratio('direct + conntrack', 'bulkDownGbps'), 3)}× throughput and ${fmt(ratio('direct + conntrack', 'newPerS'), 3)}× connections/s of the direct path: what tracking every flow costs by itself, which any NAT balancer pays`,
  ];
  // Ours over the anchor's in the same round, so that what the machine did to both that round divides out.
  const anchorRatios = (v: typeof KERNEL[number]) => results.get(v)!.map((f, i) => f.newPerS / results.get(anchorOf(v))![i].newPerS);
  const anchorRow = (name: string, list: number[], cpu: string) => `| ${name} | ${list.map((r) => fmt(r, 3)).join(' | ')} | ${fmt(median(list), 3)} | ${median(list) >= 0.95 ? 'pass' : 'FAIL'} | ${cpu} |`;
  const anchorTable = anchor ? `

**Against the anchor**, serve as built from ${anchor.label} (same spec, same rounds, each anchor variant next to ours in most of them). New connections/s, ours over the anchor's, per round; issue 20's bar: the median ≥ 0.95 (within 5 % of the anchor's rate):

| | ${Array.from({ length: rounds }, (_, i) => `round ${i + 1}`).join(' | ')} | median | bar ≥ 0.95 | balancer CPU busy, ours / anchor's (medians), % |
|---|${Array.from({ length: rounds + 3 }, () => '---').join('|')}|
${KERNEL.map((v) => anchorRow(v, anchorRatios(v), `${fmt(med(v, 'balancerCpuBusy'))} / ${fmt(med(anchorOf(v), 'balancerCpuBusy'))}`)).join('\n')}

Both kernel variants together: median ${fmt(median(KERNEL.flatMap(anchorRatios)), 3)} of ${KERNEL.flatMap(anchorRatios).length} ratios (bar ≥ 0.95: ${median(KERNEL.flatMap(anchorRatios)) >= 0.95 ? 'pass' : 'FAIL'}).

Where the balancer's CPU is busy near 100 %, the rate is what one core forwards, and the ratio is what ours costs per flow against the anchor; well below, the client and nginx on the other CPU bound both rates and the ratio only shows that nothing of ours got in their way.` : '';
  const title = onlyKernel
    ? `## Kernel data plane${anchor ? ` against ${anchor.label.split(' ')[0]}` : ''}: new connections and a backend kill (issue 20; \`--only kernel\`)`
    : '## Kernel data plane: direct path, kernel mode, proxy mode and HAProxy (issue 10, section 4)';
  const section = `${title}

Command: \`${process.argv.length > 2 ? `npm run bench:kernel -- ${process.argv.slice(2).join(' ')}` : 'npm run bench:kernel'}\`, ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}, ${rounds} interleaved round(s) of ${seconds} s per measurement, ${((Date.now() - startedAt) / 1000).toFixed(0)} s in all.
Machine: ${cpus().length} CPUs (${cpus()[0]?.model.trim()}), Linux ${release()}; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after.
${bench.pinned ? 'The balancer process (serve, HAProxy) is pinned to CPU 1, load generators and backends to CPU 0. The packets of the balancer namespace are processed on CPU 1 too (Receive Packet Steering on its interfaces): in kernel mode and on the direct path the forwarding runs there, in softirq, as on an LB host with its own CPUs.' : 'No CPU pinning.'}

Network namespaces (test/helpers/lab.ts): client ─ front segment ─ balancer ─ back segment ─ servers (veth pairs on bridges). The direct path is the client talking to the server's own address, routed by the balancer's namespace without NAT (same hops, no balancer). ${onlyKernel ? '' : 'Bulk: iperf3 to one server (`-R`: server to client). '}New connections: wrk, 1 thread, 50 connections, \`Connection: close\`, to nginx (one worker) behind one server.${onlyKernel ? ' Only the new-connection load (`--only kernel`): no bulk or keep-alive figures.' : ' Keep-alive: the same with keep-alive; p99 from wrk --latency.'}${anchor ? ' The anchor variants take only the new-connection load, and no backend kill.' : ''} "Our CPU": serve's own CPU during the ${onlyKernel ? '' : 'bulk and '}new-connection loads (kernel mode: the control plane only; the kernel does the forwarding) "Balancer CPU busy": all use of CPU 1 during the new-connection load, the process and the kernel's forwarding (softirq) alike; near 100 % the balancer's CPU is what limits the rate.

**Medians** (ratio to the direct path):

${onlyKernel ? '| | new connections/s | our CPU, % | balancer CPU busy under new connections, % |\n|---|---|---|---|' : '| | bulk up, Gbit/s | bulk down, Gbit/s | new connections/s | keep-alive requests/s | p99, ms | our CPU, % | balancer CPU busy under new connections, % |\n|---|---|---|---|---|---|---|---|'}
${rows.join('\n')}

- ${bars.join('\n- ')}${anchorTable}

Per round (${onlyKernel ? 'new/s' : 'bulk up/down · new/s · keep-alive/s'}):

| | ${Array.from({ length: rounds }, (_, i) => `round ${i + 1}`).join(' | ')} |
|---|${Array.from({ length: rounds }, () => '---').join('|')}|
${perRound.join('\n')}

**Client-visible failures across a backend kill** (same load: a new HTTP connection every 10 ms for 8 s to a listener with two servers, each with 5 s to be answered; nginx on one of them is SIGKILLed 1 s in; TCP checks every ${CHECK.interval}, fall ${CHECK.fall}, in both modes):

| mode | failed new connections | of which refused or never answered | of which accepted by the dying server, then reset | answered after a SYN retransmission | slowest answer, ms |
|---|---|---|---|---|---|
${killRows.join('\n')}

The proxy retries a refused connect on the other server (\`balancer.retries\`), so clients see nothing. The kernel drops the dead server's reset to a flow it never answered and forgets the flow, so the client's SYN retransmission (about 1 s later) is balanced again, and counts the reset as a failed check (passive health, as the proxy counts a refused connect): the server is out of the table after its second reset, tens of milliseconds after the kill, long before its checks (${CHECK.fall} × ${CHECK.interval}) would have taken it out. The connections that met it are answered about a second late instead of refused. What no balancer in the kernel can hide: a connection the server had already accepted when it was killed (its request sent, no answer yet) is reset — the proxy replays such a request on another server, the kernel cannot.

Passive health's cost at these connection rates: the \`conntrack -E\` child that reads conntrack's destroy events (the kernel sends one per flow; it keeps the few of unanswered flows) used ${watcherRows.length ? watcherRows.join('; ') : '—'} of a core, within "our CPU"; the kernel's side of it (a destroy message per flow) is in the forwarding CPU and so in the connection rate. The balancer's conntrack forgets closed flows after 1 s in this bench (\`nf_conntrack_tcp_timeout_time_wait=1\`, every variant): flows end at the rate they start, as in a steady state.

Where the balancer's CPU is busy 100 % of the time under new connections, the rate is what one core forwards through conntrack and NAT (the direct path pays neither; "direct + conntrack" shows conntrack's own share); serve's own share of it is the "our CPU" column (health checks, the refusal watcher, and every check timeout (1-5 s) its counters and flows: \`nft\` and \`conntrack -L\` with a kernel-side filter on the mark of flows not closing, so the flows lingering in TIME_WAIT are not read). Every host of the bench keeps no TIME_WAIT of its own (\`net.ipv4.tcp_max_tw_buckets=0\`): the one client address reuses its ports within seconds, and SYNs meeting an old TIME_WAIT entry stalled for 1 s each, in whichever variant came after another that left them.

What limits the figures: two CPUs, one for the client, the backends and the bridges, one for the balancer (its process or, in kernel mode, the forwarding); veth and bridge forwarding in one kernel (no NIC); nginx with one worker bounds the request rates of every variant, including the direct path${onlyKernel ? '' : '; iperf3 one stream'}.${notes.length ? `\n\nNotes: ${[...new Set(notes)].join('; ')}.` : ''}`;
  process.stdout.write(`\n${section}\n`);
  if (!quick && !values['no-write']) {
    // A run of some variants only keeps its own section: the full run's figures stay.
    writeBenchmarkSection(BENCHMARKS_FILE, onlyKernel ? 'bench:kernel-only' : 'bench:kernel', section);
    process.stdout.write(`wrote ${BENCHMARKS_FILE}\n`);
  }
  return 0;
}

main().then((code) => process.exit(code), (error: unknown) => { process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`); process.exit(1); });
