// `npm run bench:lb` (a section of `npm run bench`): our balancer and HAProxy side by side on loopback, in interleaved rounds, in front of
// the same backends; writes the comparison to BENCHMARKS.md (between the lb markers).
//
//   node dist/bench/run.js [--quick] [--rounds N] [--seconds S] [--ours serve|stand-in] [--no-write] [--profile]
//
// --quick: one short round, nothing written (a sanity check of the harness).
// --profile: no comparison; runs our balancer under the keep-alive load with node --cpu-prof and prints
//            the functions with the most self time.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { haproxyConfig, nginxConfig, ourSpec, type Topology } from './lb/configs.js';
import {
  bulkThroughput,
  canConnect,
  fileContains,
  httpStatus,
  idleMemory,
  sleep,
  until,
  waitForQuietMachine,
  withCpu,
  wrk,
  type LoadContext,
} from './lb/measure.js';
import { canPin, clockTicksPerSecond, commandExists, ProcessGroup, type Started } from './lb/processes.js';
import { writeBenchmarkSection } from './section.js';
import { hotFunctions, hotFunctionsTable } from './lb/profile-summary.js';
import { markdownSection, notesList, roundsTable, summarize, summaryTable, type Measurement, type ProxyName, type RoundResult } from './lb/report.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST_BENCH = fileURLToPath(new URL('.', import.meta.url));
const BENCHMARKS_FILE = join(ROOT, 'BENCHMARKS.md');
/** The whole bench stops itself after this, whatever happens. */
const WATCHDOG_MS = 9 * 60_000;
const IDLE_TARGET = 10_000;

type OursKind = 'serve' | 'stand-in';

interface Options {
  quick: boolean;
  rounds: number;
  seconds: number;
  ours: OursKind;
  write: boolean;
  profile: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      ours: { type: 'string', default: 'serve' },
      'no-write': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const quick = values.quick ?? false;
  const rounds = Number(values.rounds ?? (quick ? 1 : 5));
  const seconds = Number(values.seconds ?? (quick ? 2 : 5));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new Error('--rounds must be an integer from 1 to 9');
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 30) throw new Error('--seconds must be an integer from 1 to 30');
  if (values.ours !== 'serve' && values.ours !== 'stand-in') throw new Error('--ours must be serve or stand-in');
  return { quick, rounds, seconds, ours: values.ours, write: !quick && !values['no-write'] && !values.profile, profile: values.profile ?? false };
}

function firstLineOf(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n')[0].trim();
}

function hardNofile(): number {
  const match = /^Max open files\s+\d+\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  if (!match || match[1] === 'unlimited') return 1_048_576;
  return Number(match[1]);
}

async function freePorts(count: number): Promise<number[]> {
  const { createServer } = await import('node:net');
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<import('node:net').Server>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '0.0.0.0', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

class Bench {
  readonly options: Options;
  readonly group: ProcessGroup;
  readonly tempDir: string;
  readonly pinned: boolean;
  readonly ctx: LoadContext;
  topology!: Topology;
  idleConnections = IDLE_TARGET;
  idleNote: string | undefined;
  readonly nofile: number;

  constructor(options: Options) {
    this.options = options;
    this.pinned = canPin();
    this.group = new ProcessGroup(this.pinned);
    this.tempDir = mkdtempSync(join(tmpdir(), 'ce-bench-'));
    this.nofile = hardNofile();
    this.ctx = {
      group: this.group,
      loadCpu: this.pinned ? 0 : undefined,
      proxyCpu: this.pinned ? 1 : undefined,
      tempDir: this.tempDir,
      distBench: DIST_BENCH,
      nofile: this.nofile,
      clockTicksPerSecond: clockTicksPerSecond(),
      seconds: options.seconds,
    };
  }

  get proxyCpu(): number | undefined {
    return this.pinned ? 1 : undefined;
  }

  async setUp(): Promise<void> {
    for (const tool of ['haproxy', 'iperf3', 'wrk', 'nginx']) {
      if (!commandExists(tool)) throw new Error(`${tool} is not installed (Debian: apt-get install haproxy iperf3 wrk nginx-light)`);
    }
    if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('dist/src/cli/main.js is missing: run `npm run build` first (npm run bench does)');
    // The bench itself and everything it starts, except the proxy under test, share the load CPU.
    if (this.pinned) spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

    // A proxied connection takes two descriptors; stay inside this machine's per-process limit.
    // HAProxy refuses to start when 2 × maxconn + its own descriptors exceed the limit.
    const fit = Math.floor((this.nofile - 300) / 2);
    const maxConnections = Math.min(fit, IDLE_TARGET + 1000);
    this.idleConnections = this.options.quick ? Math.min(2000, maxConnections - 50) : Math.min(IDLE_TARGET, maxConnections - 50);
    if (this.idleConnections < IDLE_TARGET && !this.options.quick) {
      this.idleNote = `This machine limits a process to ${this.nofile.toLocaleString('en-US')} open files (hard limit, not raisable here), and a proxied connection needs two, so ${this.idleConnections.toLocaleString('en-US')} connections were measured and the growth scaled linearly to 10,000.`;
    }

    const [oursBulk, oursHttp, oursHold, haproxyBulk, haproxyHttp, haproxyHold, iperf, nginx, holder, admin] = await freePorts(10);
    this.topology = {
      bind: '127.0.0.1',
      controlPlane: [
        { name: 'cp-01', address: '127.0.0.31' },
        { name: 'cp-02', address: '127.0.0.32' },
      ],
      workers: [{ name: 'wk-01', address: '127.0.0.41' }],
      frontends: {
        ours: { bulk: oursBulk, http: oursHttp, hold: oursHold },
        haproxy: { bulk: haproxyBulk, http: haproxyHttp, hold: haproxyHold },
      },
      ports: { iperf, nginx, holder, admin },
      maxConnections,
    };
    writeFileSync(join(this.tempDir, 'endpoint.yaml'), ourSpec(this.topology));
    writeFileSync(join(this.tempDir, 'haproxy.cfg'), haproxyConfig(this.topology));
    writeFileSync(join(this.tempDir, 'nginx.conf'), nginxConfig(this.topology, this.tempDir));

    const check = spawnSync('haproxy', ['-c', '-q', '-f', join(this.tempDir, 'haproxy.cfg')], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy rejected the bench config:\n${check.stdout}${check.stderr}`);
    if (this.options.ours === 'serve') {
      const validate = spawnSync(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'validate', '-c', join(this.tempDir, 'endpoint.yaml')], { encoding: 'utf8' });
      if (validate.status !== 0) throw new Error(`cluster-endpoint validate rejected the bench spec:\n${validate.stdout}${validate.stderr}`);
    }

    await this.startBackends();
  }

  async startBackends(): Promise<void> {
    const t = this.topology;
    const load = { cpu: this.ctx.loadCpu, nofile: this.nofile };
    const iperfLog = join(this.tempDir, 'iperf3-server.log');
    const iperf = this.group.start('iperf3-server', 'iperf3', ['-s', '--forceflush', '-B', t.workers[0].address, '-p', String(t.ports.iperf)], { ...load, logFile: iperfLog });
    const nginx = this.group.start('nginx', 'nginx', ['-c', join(this.tempDir, 'nginx.conf'), '-p', this.tempDir, '-e', join(this.tempDir, 'nginx-error.log')], {
      ...load,
      logFile: join(this.tempDir, 'nginx.log'),
    });
    const holders = t.controlPlane.map((b) =>
      this.group.start(`holder-${b.name}`, process.execPath, [join(DIST_BENCH, 'lb/holder.js'), b.address, String(t.ports.holder)], {
        ...load,
        logFile: join(this.tempDir, `holder-${b.name}.log`),
      }),
    );
    const ready = await until(async () => {
      for (const p of [iperf, nginx, ...holders]) if (p.hasExited()) throw new Error(`${p.name} exited at start; see ${this.tempDir}/${p.name}.log`);
      if (!fileContains(iperfLog, 'Server listening')) return false;
      for (const b of t.controlPlane) {
        if ((await httpStatus(`http://${b.address}:${t.ports.nginx}/`)).status !== 200) return false;
        if (!(await canConnect(b.address, t.ports.holder))) return false;
      }
      return true;
    }, 15_000);
    if (!ready) throw new Error(`backends did not start within 15 s; logs in ${this.tempDir}`);
  }

  startProxy(proxy: ProxyName, profileDir?: string): Started {
    const t = this.topology;
    const common = { cpu: this.proxyCpu, nofile: this.nofile, cwd: ROOT, logFile: join(this.tempDir, `${proxy}.log`) };
    if (proxy === 'haproxy') return this.group.start('haproxy', 'haproxy', ['-db', '-f', join(this.tempDir, 'haproxy.cfg')], common);
    if (this.options.ours === 'stand-in') {
      const f = t.frontends.ours;
      const frontends = [
        { bind: t.bind, port: f.bulk, servers: t.workers.map((b) => ({ address: b.address, port: t.ports.iperf })) },
        { bind: t.bind, port: f.http, servers: t.controlPlane.map((b) => ({ address: b.address, port: t.ports.nginx })) },
        { bind: t.bind, port: f.hold, servers: t.controlPlane.map((b) => ({ address: b.address, port: t.ports.holder })) },
      ];
      return this.group.start('ours', process.execPath, [join(DIST_BENCH, 'lb/stand-in-proxy.js'), JSON.stringify(frontends)], common);
    }
    const nodeFlags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    return this.group.start('ours', process.execPath, [...nodeFlags, join(ROOT, 'dist/src/cli/main.js'), 'serve', '-c', join(this.tempDir, 'endpoint.yaml')], common);
  }

  httpUrl(proxy: ProxyName): string {
    return `http://${this.topology.bind}:${this.topology.frontends[proxy].http}/`;
  }

  /** Frontends accept, a request goes through, and (ours) every server is up on the status API. */
  async waitReady(proxy: ProxyName, started: Started, notes: string[]): Promise<void> {
    const t = this.topology;
    const f = t.frontends[proxy];
    const alive = () => {
      if (started.hasExited()) {
        let log = '';
        try {
          log = readFileSync(join(this.tempDir, `${proxy}.log`), 'utf8').slice(-2000);
        } catch {
          // no log
        }
        throw new Error(`${proxy} exited during start-up:\n${log}`);
      }
    };
    const listening = await until(async () => {
      alive();
      for (const port of [f.bulk, f.http, f.hold]) if (!(await canConnect(t.bind, port))) return false;
      return true;
    }, 20_000);
    if (!listening) throw new Error(`${proxy} did not open its frontends within 20 s`);
    if (proxy === 'ours' && this.options.ours === 'serve') {
      const allUp = await until(async () => {
        alive();
        const { status, body } = await httpStatus(`http://127.0.0.1:${t.ports.admin}/api/status`);
        if (status !== 200) return false;
        const snapshot = JSON.parse(body) as { listeners?: { servers?: { state?: string }[] }[] };
        const servers = (snapshot.listeners ?? []).flatMap((l) => l.servers ?? []);
        return servers.length > 0 && servers.every((s) => s.state === 'up');
      }, 20_000, 200);
      if (!allUp) notes.push('the status API did not show every server up within 20 s; measured anyway');
    }
    const through = await until(async () => {
      alive();
      return (await httpStatus(this.httpUrl(proxy))).status === 200;
    }, 20_000);
    if (!through) throw new Error(`${proxy}: no HTTP request got through to nginx within 20 s`);
  }

  /**
   * One round: both proxies start fresh and run side by side (each on its own frontend ports, only one
   * loaded at a time); every metric is measured for one and then the other, so the two numbers of a pair
   * are seconds apart. The order alternates between rounds.
   */
  async round(round: number, log: (text: string) => void): Promise<RoundResult> {
    const t = this.topology;
    const order: ProxyName[] = round % 2 === 1 ? ['ours', 'haproxy'] : ['haproxy', 'ours'];
    const started: Partial<Record<ProxyName, Started>> = {};
    const notes: Record<ProxyName, string[]> = { ours: [], haproxy: [] };
    const m: Record<ProxyName, Partial<Measurement>> = { ours: {}, haproxy: {} };
    const cpu: Record<ProxyName, Partial<Measurement['cpu']>> = { ours: {}, haproxy: {} };
    const others: Record<ProxyName, Partial<Measurement['cpu']>> = { ours: {}, haproxy: {} };
    const pid = (proxy: ProxyName) => {
      const p = started[proxy]!;
      if (p.hasExited()) throw new Error(`${proxy} exited during the measurements; see ${this.tempDir}/${proxy}.log`);
      return p.pid;
    };
    try {
      for (const proxy of order) started[proxy] = this.startProxy(proxy);
      for (const proxy of order) await this.waitReady(proxy, started[proxy]!, notes[proxy]);
      log('  both proxies ready');
      await sleep(1000);

      for (const proxy of order) {
        const idle = await idleMemory(this.ctx, started[proxy]!, t.bind, t.frontends[proxy].hold, this.idleConnections);
        if (idle.failed > 0) notes[proxy].push(`${idle.failed} of ${this.idleConnections} idle connections failed`);
        m[proxy].idleMiB = (idle.loadedKiB - idle.baselineKiB) / 1024;
        m[proxy].idleConnections = idle.opened;
        m[proxy].idleMiBPer10k = idle.opened > 0 ? (m[proxy].idleMiB! * IDLE_TARGET) / idle.opened : Number.NaN;
        log(`  ${proxy.padEnd(7)} idle     ${idle.opened} connections in ${(idle.ms / 1000).toFixed(1)} s, +${m[proxy].idleMiB!.toFixed(1)} MiB (${m[proxy].idleMiBPer10k!.toFixed(1)} MiB per 10k)`);
      }
      for (const reverse of [false, true]) {
        for (const proxy of order) {
          const bulk = await withCpu(this.ctx, pid(proxy), () => bulkThroughput(this.ctx, t.bind, t.frontends[proxy].bulk, reverse, notes[proxy]));
          const key = reverse ? 'bulkDown' : 'bulkUp';
          others[proxy][key] = bulk.othersOnProxyCpuPercent ?? Number.NaN;
          cpu[proxy][key] = bulk.cpuPercent;
          m[proxy][reverse ? 'bulkDownGbps' : 'bulkUpGbps'] = bulk.value;
          log(`  ${proxy.padEnd(7)} bulk ${reverse ? 'dn' : 'up'}  ${bulk.value.toFixed(2)} Gbit/s (proxy CPU ${bulk.cpuPercent.toFixed(0)} %)`);
        }
      }
      for (const proxy of order) {
        const keepAlive = await withCpu(this.ctx, pid(proxy), () => wrk(this.ctx, this.httpUrl(proxy), ['--latency']));
        if (keepAlive.value.errors > 0) notes[proxy].push(`keep-alive: ${keepAlive.value.errors} errors`);
        others[proxy].keepAlive = keepAlive.othersOnProxyCpuPercent ?? Number.NaN;
        m[proxy].keepAliveRps = keepAlive.value.requestsPerSecond;
        m[proxy].p50Ms = keepAlive.value.p50Ms ?? Number.NaN;
        m[proxy].p99Ms = keepAlive.value.p99Ms ?? Number.NaN;
        cpu[proxy].keepAlive = keepAlive.cpuPercent;
        log(`  ${proxy.padEnd(7)} requests ${keepAlive.value.requestsPerSecond.toFixed(0)}/s, p50 ${m[proxy].p50Ms!.toFixed(3)} ms, p99 ${m[proxy].p99Ms!.toFixed(3)} ms (proxy CPU ${keepAlive.cpuPercent.toFixed(0)} %)`);
      }
      for (const proxy of order) {
        const fresh = await withCpu(this.ctx, pid(proxy), () => wrk(this.ctx, this.httpUrl(proxy), ['-H', 'Connection: close']));
        if (fresh.value.errors > 0) notes[proxy].push(`new connections: ${fresh.value.errors} errors of ${fresh.value.requests} requests`);
        others[proxy].newConnections = fresh.othersOnProxyCpuPercent ?? Number.NaN;
        m[proxy].newConnectionsPerS = fresh.value.requestsPerSecond;
        cpu[proxy].newConnections = fresh.cpuPercent;
        log(`  ${proxy.padEnd(7)} new      ${fresh.value.requestsPerSecond.toFixed(0)} connections/s (proxy CPU ${fresh.cpuPercent.toFixed(0)} %)`);
      }
      for (const proxy of order) pid(proxy);
    } finally {
      await Promise.all(order.map((proxy) => (started[proxy] ? this.group.stop(started[proxy]!, 8000) : undefined)));
    }
    const complete = (proxy: ProxyName): Measurement => ({ ...(m[proxy] as Measurement), cpu: cpu[proxy] as Measurement['cpu'], othersOnProxyCpu: others[proxy] as Measurement['cpu'], notes: notes[proxy] });
    return { round, ours: complete('ours'), haproxy: complete('haproxy') };
  }

  /** Our balancer alone under each load with node --cpu-prof; prints the busiest functions per load. */
  async profile(): Promise<void> {
    const t = this.topology;
    const profileDir = join(this.tempDir, 'profile');
    mkdirSync(profileDir);
    const notes: string[] = [];
    const started = this.startProxy('ours', profileDir);
    const windows: { label: string; fromUs: number; toUs: number }[] = [];
    const timed = async <T>(label: string, fn: () => Promise<{ value: T; cpuPercent: number }>, describe: (value: T) => string) => {
      const fromUs = Number(process.hrtime.bigint() / 1000n);
      const result = await fn();
      windows.push({ label: `${label}: ${describe(result.value)}, proxy CPU ${result.cpuPercent.toFixed(0)} %`, fromUs, toUs: Number(process.hrtime.bigint() / 1000n) });
    };
    try {
      await this.waitReady('ours', started, notes);
      await timed('bulk client → server (iperf3)', () => withCpu(this.ctx, started.pid, () => bulkThroughput(this.ctx, t.bind, t.frontends.ours.bulk, false, notes)), (v) => `${v.toFixed(2)} Gbit/s`);
      await timed('bulk server → client (iperf3 -R)', () => withCpu(this.ctx, started.pid, () => bulkThroughput(this.ctx, t.bind, t.frontends.ours.bulk, true, notes)), (v) => `${v.toFixed(2)} Gbit/s`);
      await timed('keep-alive (wrk)', () => withCpu(this.ctx, started.pid, () => wrk(this.ctx, this.httpUrl('ours'), ['--latency'])), (v) => `${v.requestsPerSecond.toFixed(0)} req/s, p99 ${v.p99Ms} ms`);
      await timed('new connections (wrk, Connection: close)', () => withCpu(this.ctx, started.pid, () => wrk(this.ctx, this.httpUrl('ours'), ['-H', 'Connection: close'])), (v) => `${v.requestsPerSecond.toFixed(0)} connections/s`);
    } finally {
      await this.group.stop(started, 10_000);
    }
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no .cpuprofile was written (the balancer must exit cleanly on SIGTERM)');
    const text = readFileSync(join(profileDir, file), 'utf8');
    const kept = join(tmpdir(), `ce-bench-${Date.now()}.cpuprofile`);
    writeFileSync(kept, text);
    for (const w of windows) {
      process.stdout.write(`\n### ${w.label}\n\nSelf time of our balancer during this load (% of busy time):\n\n`);
      process.stdout.write(`${hotFunctionsTable(hotFunctions(text, 15, w))}\n`);
    }
    process.stdout.write(`\nWhole profile: ${kept} (open in Chrome DevTools or speedscope)\n`);
  }

  machine(): string {
    const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
    return `${cpus().length} CPUs (${model}), Linux ${release()}, ${Math.round(Number(readFileSync('/proc/meminfo', 'utf8').match(/MemTotal:\s+(\d+)/)?.[1] ?? 0) / 1024 / 1024)} GiB RAM`;
  }

  versions(): string {
    return [
      `Node ${process.version}`,
      firstLineOf('haproxy', ['-v']).replace(/ - https?:.*$/, ''),
      firstLineOf('nginx', ['-v']).replace(/^nginx version: /, ''),
      firstLineOf('iperf3', ['--version']).replace(/ \(.*$/, ''),
      firstLineOf('wrk', ['-v']).replace(/ \[.*$/, '').replace(/ Copyright.*$/, ''),
    ].join(', ');
  }

  pinningText(): string {
    return this.pinned
      ? 'CPU pinning (taskset): the proxy under test is pinned to CPU 1; the load generators (iperf3, wrk, the idle-connection client), the backends (iperf3 server, nginx, the connection holders) and the bench itself to CPU 0. That keeps the two proxies on equal terms. Other work on the machine is not kept off CPU 1: the per-round table shows how much of it other processes took during each load.'
      : 'No CPU pinning (taskset missing or a single CPU): proxies, load generators and backends share the CPUs, so the numbers are noisier.';
  }

  async close(): Promise<void> {
    await this.group.stopAll(5000);
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = Date.now();
  const loadBefore = loadavg()[0];
  const bench = new Bench(options);
  let ok = false;
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: still running after ${WATCHDOG_MS / 60_000} min; stopping everything\n`);
    void bench.close().finally(() => process.exit(1));
  }, WATCHDOG_MS);
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`bench: ${signal}; stopping everything (logs and configs kept in ${bench.tempDir})\n`);
    void bench.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  process.once('exit', () => bench.group.killAllNow());
  try {
    await bench.setUp();
    const quietWaitStartedAt = Date.now();
    const busiest = await waitForQuietMachine(cpus().length, 30, options.quick ? 0 : 60_000, bench.ctx.clockTicksPerSecond);
    const quietNote = `other work used ${busiest.toFixed(0)} % of the busiest CPU in the second before the first round (the bench waited ${((Date.now() - quietWaitStartedAt) / 1000).toFixed(0)} s, at most 60, for it to drop below 30 %)`;
    if (!options.quick) process.stdout.write(`${quietNote}\n`);
    if (options.profile) {
      await bench.profile();
      ok = true;
      return 0;
    }
    const rounds: RoundResult[] = [];
    const log = (text: string) => process.stdout.write(`${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s ${text}\n`);
    for (let round = 1; round <= options.rounds; round++) {
      log(`round ${round}/${options.rounds}`);
      rounds.push(await bench.round(round, log));
    }
    const summaries = summarize(rounds);
    process.stdout.write(`\n${roundsTable(rounds)}\n\n${summaryTable(summaries)}\n`);
    for (const note of notesList(rounds)) process.stdout.write(`note: ${note}\n`);
    if (options.write) {
      const section = markdownSection(
        {
          date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          command: process.argv.length > 2 ? `npm run bench:lb -- ${process.argv.slice(2).join(' ')}` : 'npm run bench:lb',
          machine: bench.machine(),
          load: `1-minute load average ${loadBefore.toFixed(2)} before the run, ${loadavg()[0].toFixed(2)} after (includes the bench's own load); ${quietNote}`,
          versions: bench.versions(),
          rounds: options.rounds,
          pinning: bench.pinningText(),
          idleConnections: bench.idleConnections,
          idleNote: bench.idleNote,
          ours: options.ours === 'serve' ? '`node dist/src/cli/main.js serve -c endpoint.yaml` (one process)' : 'the plain Node stand-in proxy (bench/lb/stand-in-proxy.ts), not the real balancer',
          durationS: (Date.now() - startedAt) / 1000,
        },
        rounds,
      );
      writeBenchmarkSection(BENCHMARKS_FILE, 'lb', section);
      process.stdout.write(`\nwrote ${BENCHMARKS_FILE}\n`);
    }
    ok = true;
    return 0;
  } finally {
    clearTimeout(watchdog);
    await bench.close();
    if (ok) rmSync(bench.tempDir, { recursive: true, force: true });
    else process.stderr.write(`bench: logs and configs kept in ${bench.tempDir}\n`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
