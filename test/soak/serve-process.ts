// `cluster-endpoint serve` as a real child process, with what a soak needs to watch it: its log, its
// descriptors, memory and libuv handles (a diagnostic report on SIGWINCH: SIGUSR2 is serve's restart signal), and its admin API.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatusSnapshot } from '../../src/runtime/snapshot.js';
import { CLI, ROOT } from '../helpers/cli.js';

export interface ResourceSample { at: number; descriptors: number; rssKiB: number; handles: number; heapUsedKiB: number }

export interface ServeProcess {
  readonly pid: number;
  readonly adminUrl: string;
  readonly output: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  status(): Promise<StatusSnapshot>;
  signal(name: NodeJS.Signals): void;
  /** Descriptors (/proc), RSS, and the libuv handles and JS heap from a diagnostic report. */
  sample(): Promise<ResourceSample>;
  /** SIGTERM and wait; SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startServe(specPath: string, adminUrl: string, options: { nofile?: number } = {}): Promise<ServeProcess> {
  const reports = await mkdtemp(join(tmpdir(), 'ce-soak-report-'));
  const node = [process.execPath, '--report-on-signal', '--report-signal=SIGWINCH', `--report-directory=${reports}`, '--import', 'tsx', CLI, 'serve', '-c', specPath];
  const argv = options.nofile ? ['prlimit', `--nofile=${options.nofile}:${options.nofile}`, ...node] : node;
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLUSTER_ENDPOINT_LOG_LEVEL: process.env.SOAK_LOG_LEVEL ?? 'info' } });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => { output += d; });
  child.stderr!.on('data', (d: Buffer) => { output += d; });
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => { running = false; resolve({ code, signal }); }));
  void exited.then(() => rm(reports, { recursive: true, force: true }));
  const pid = child.pid!;
  const serve: ServeProcess = {
    pid, adminUrl, exited,
    get output() { return output; },
    get running() { return running; },
    async status() {
      const response = await fetch(`${adminUrl}/api/status`, { signal: AbortSignal.timeout(5000) });
      return (await response.json()) as StatusSnapshot;
    },
    signal(name) { if (running) child.kill(name); },
    async sample() {
      const descriptors = (await readdir(`/proc/${pid}/fd`)).length;
      const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      const before = new Set(await readdir(reports));
      child.kill('SIGWINCH');
      let file: string | undefined;
      for (let i = 0; i < 100 && !file; i++) {
        await new Promise((r) => setTimeout(r, 50));
        file = (await readdir(reports)).find((f) => !before.has(f) && f.endsWith('.json'));
      }
      if (!file) throw new Error('serve wrote no diagnostic report');
      let report: { libuv?: Array<{ type: string; is_active?: boolean }>; javascriptHeap?: { usedMemory?: number } } | undefined;
      for (let i = 0; i < 40 && !report; i++) {
        try { report = JSON.parse(await readFile(join(reports, file), 'utf8')) as typeof report; } catch { await new Promise((r) => setTimeout(r, 50)); }
      }
      await rm(join(reports, file), { force: true });
      const handles = (report?.libuv ?? []).filter((h) => h.is_active !== false && h.type !== 'loop').length;
      return { at: Date.now(), descriptors, rssKiB, handles, heapUsedKiB: Math.round((report?.javascriptHeap?.usedMemory ?? 0) / 1024) };
    },
    async stop(graceMs = 10_000) {
      if (!running) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  return serve;
}

/** Polls until every server of every listener is up (or throws with the last status). */
export async function waitAllUp(serve: ServeProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!serve.running) throw new Error(`serve exited:\n${serve.output.slice(-3000)}`);
    try {
      const status = await serve.status();
      const servers = status.listeners.flatMap((l) => l.servers.filter((s) => !s.removed));
      if (servers.length > 0 && servers.every((s) => s.state === 'up')) return;
      last = servers.map((s) => `${s.name}:${s.state}`).join(' ');
    } catch (error) {
      last = String(error);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not every server came up within ${timeoutMs} ms: ${last}`);
}

/** PUT an admin state through the admin API, as `cluster-endpoint drain` does. */
export async function setAdminState(adminUrl: string, node: string, adminState: 'ready' | 'drain' | 'maint'): Promise<void> {
  const response = await fetch(`${adminUrl}/api/nodes/${node}/admin-state`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ adminState }) });
  if (response.status !== 200) throw new Error(`admin state ${node} ${adminState}: HTTP ${response.status} ${await response.text()}`);
}
