// The measurements: each runs a load generator (pinned to the load CPU) against a proxy's frontend and
// returns a number. All waits are bounded.
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { cpuTicks, openFds, rssKiB, type ProcessGroup, type Started } from './processes.js';
import { parseIperf, parseWrk, type WrkResult } from './parse.js';

export interface LoadContext {
  group: ProcessGroup;
  /** CPU for load generators and backends (undefined = not pinned). */
  loadCpu?: number;
  /** CPU the proxy under test is pinned to (undefined = not pinned). */
  proxyCpu?: number;
  tempDir: string;
  distBench: string;
  nofile: number;
  clockTicksPerSecond: number;
  /** Seconds per wrk/iperf3 run. */
  seconds: number;
  /** Prefix for every load generator, e.g. ['ip', 'netns', 'exec', 'client'] to run it in a namespace. */
  wrap?: string[];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs a command to completion (killed after timeoutMs) and returns its stdout. */
export async function runTool(ctx: LoadContext, name: string, command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string }> {
  const argv = [...(ctx.wrap ?? []), command, ...args];
  const started = ctx.group.start(name, argv[0], argv.slice(1), { cpu: ctx.loadCpu, nofile: ctx.nofile, logFile: join(ctx.tempDir, `${name}.log`), pipeStdout: true });
  const chunks: Buffer[] = [];
  started.child.stdout!.on('data', (chunk: Buffer) => chunks.push(chunk));
  const timer = setTimeout(() => void ctx.group.stop(started, 1000), timeoutMs);
  const code = await started.exited;
  clearTimeout(timer);
  return { code, stdout: Buffer.concat(chunks).toString('utf8') };
}

/**
 * Time spent on one CPU, in clock ticks, from /proc/stat: process time (user + nice + system), and with
 * `interrupts` also irq and softirq time (where the kernel forwards packets).
 */
export function cpuBusyTicks(cpu: number, interrupts = false): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return 0;
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
  return user + nice + system + (interrupts ? irq + softirq : 0);
}

/**
 * CPU use of pid while fn runs, in percent of one core; and, when the proxy is pinned, how much of its
 * CPU other processes used meanwhile (work elsewhere on the machine that competed with the proxy).
 */
export async function withCpu<T>(ctx: LoadContext, pid: number, fn: () => Promise<T>): Promise<{ value: T; cpuPercent: number; othersOnProxyCpuPercent?: number }> {
  const ticksBefore = cpuTicks(pid);
  const busyBefore = ctx.proxyCpu === undefined ? 0 : cpuBusyTicks(ctx.proxyCpu);
  const startedAt = process.hrtime.bigint();
  const value = await fn();
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const proxyTicks = cpuTicks(pid) - ticksBefore;
  const cpuPercent = (proxyTicks / ctx.clockTicksPerSecond / seconds) * 100;
  if (ctx.proxyCpu === undefined) return { value, cpuPercent };
  const othersTicks = Math.max(0, cpuBusyTicks(ctx.proxyCpu) - busyBefore - proxyTicks);
  return { value, cpuPercent, othersOnProxyCpuPercent: (othersTicks / ctx.clockTicksPerSecond / seconds) * 100 };
}

/** iperf3 through the proxy; reverse: the server sends (iperf3 -R). Gbit/s at the receiver. */
export async function bulkThroughput(ctx: LoadContext, host: string, port: number, reverse: boolean, notes: string[]): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const args = ['-c', host, '-p', String(port), '-t', String(ctx.seconds), '-O', '1', '-J', ...(reverse ? ['-R'] : [])];
    const { stdout } = await runTool(ctx, 'iperf3-client', 'iperf3', args, (ctx.seconds + 15) * 1000);
    try {
      return parseIperf(stdout).gbitPerSecond;
    } catch (error) {
      // A health check that lands while iperf3 sets up its data stream can abort the test; try once more.
      if (attempt >= 2) throw error;
      notes.push(`iperf3${reverse ? ' -R' : ''} attempt ${attempt} failed (${(error as Error).message}); retried`);
      await sleep(1000);
    }
  }
}

export async function wrk(ctx: LoadContext, url: string, extra: string[]): Promise<WrkResult> {
  const { stdout } = await runTool(ctx, 'wrk', 'wrk', ['-t1', '-c50', `-d${ctx.seconds}s`, ...extra, url], (ctx.seconds + 15) * 1000);
  return parseWrk(stdout);
}

export interface IdleResult {
  opened: number;
  failed: number;
  /** Time to open them all. */
  ms: number;
  baselineKiB: number;
  loadedKiB: number;
}

/** Holds count connections through the proxy and reads the proxy's RSS growth; closes them again. */
export async function idleMemory(ctx: LoadContext, proxy: Started, host: string, port: number, count: number): Promise<IdleResult> {
  const baselineFds = openFds(proxy.pid);
  const baselineKiB = rssKiB(proxy.pid);
  const client = ctx.group.start('idle-client', process.execPath, [join(ctx.distBench, 'lb/idle-client.js'), host, String(port), String(count), '256', '60000'], {
    cpu: ctx.loadCpu,
    nofile: ctx.nofile,
    logFile: join(ctx.tempDir, 'idle-client.log'),
    pipeStdout: true,
  });
  try {
    const line = await firstLine(client, 70_000);
    const { opened, failed, ms } = JSON.parse(line) as { opened: number; failed: number; ms: number };
    await sleep(1000); // let the proxy finish its bookkeeping and the RSS settle
    const loadedKiB = rssKiB(proxy.pid);
    return { opened, failed, ms, baselineKiB, loadedKiB };
  } finally {
    await ctx.group.stop(client, 2000);
    // Wait until the proxy has closed the connections, so the next measurement starts clean.
    const deadline = Date.now() + 20_000;
    while (openFds(proxy.pid) > baselineFds + 16 && Date.now() < deadline) await sleep(100);
  }
}

function firstLine(started: Started, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${started.name} printed nothing within ${timeoutMs} ms`)), timeoutMs);
    started.child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline !== -1) {
        clearTimeout(timer);
        resolve(text.slice(0, newline));
      }
    });
    void started.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${started.name} exited (${code}) before reporting`));
    });
  });
}

/** One HTTP GET; resolves the status code, or 0 on any error. */
export function httpStatus(url: string, timeoutMs = 1000): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: 0, body: '' }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end();
  });
}

/** Resolves true when a TCP connect to host:port succeeds within timeoutMs. */
export function canConnect(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** Polls until check() is true or timeoutMs passes. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
}

export function fileContains(path: string, text: string): boolean {
  try {
    return readFileSync(path, 'utf8').includes(text);
  } catch {
    return false;
  }
}

/**
 * Waits (at most maxWaitMs) for a second in which other work used less than thresholdPercent of every CPU,
 * so the run starts on a machine that is as quiet as it gets. Returns the busiest CPU's use in the last second.
 */
export async function waitForQuietMachine(cpuCount: number, thresholdPercent: number, maxWaitMs: number, ticksPerSecond: number): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const before = Array.from({ length: cpuCount }, (_, cpu) => cpuBusyTicks(cpu));
    await sleep(1000);
    const busiest = Math.max(...before.map((ticks, cpu) => ((cpuBusyTicks(cpu) - ticks) / ticksPerSecond) * 100));
    if (busiest < thresholdPercent || Date.now() > deadline) return busiest;
  }
}
