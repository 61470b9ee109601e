// The rolling-upgrade drill (issue 9): for each control-plane node in turn — drain, stop, start, wait until it
// is healthy, undrain — while `cluster-endpoint watch --https /readyz` opens new connections through the
// endpoint and long-lived streams run through it. Run through `serve` (the spec) or through HAProxy (the
// config `render haproxy` writes from the same spec, drained through its runtime API).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { RENDERERS } from '../../src/render/index.js';
import { parseSpec } from '../../src/spec/load.js';
import { createCa, issueCertificate } from '../../src/tls/certs.js';
import { CLI, ROOT } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { startNodeProcesses, type NodeProcess } from '../helpers/node-process.js';
import { Load } from './load.js';
import { setAdminState, startServe, waitAllUp, type ServeProcess } from './serve-process.js';

export type DrillEngine = 'serve' | 'haproxy';

export interface DrillOptions {
  engine: DrillEngine;
  /** Long-lived streams kept open through the endpoint. */
  streams: number;
  /** New connections per second that `watch` opens (HTTPS GET /readyz each). */
  rate: number;
  /** Pause after each step (drain → stop → start …). */
  stepMs: number;
  log(line: string): void;
}

export interface DrillReport {
  engine: DrillEngine;
  seconds: number;
  watch: { attempts: number; failed: number; outages: number; longestMs: number };
  streams: { cut: number; reconnectMs: number[]; failedReconnects: number; integrityErrors: number };
  steps: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runDrill(o: DrillOptions): Promise<DrillReport> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), `ce-drill-${o.engine}-`));
  const steps: string[] = [];
  const step = (text: string) => { const line = `${new Date().toISOString().slice(11, 23)} ${text}`; steps.push(line); o.log(line); };
  const ca = await createCa('drill CA');
  const pair = await issueCertificate(ca, { commonName: 'drill node', sans: ['127.0.0.1'] });
  await writeFile(join(dir, 'node.crt'), pair.cert);
  await writeFile(join(dir, 'node.key'), pair.key);
  const nodes = await startNodeProcesses(['cp-01', 'cp-02', 'cp-03'], { tls: { certFile: join(dir, 'node.crt'), keyFile: join(dir, 'node.key') } });
  const [kubePort, streamPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  const spec = {
    cluster: { name: 'drill' },
    endpoint: '127.0.0.1',
    controlPlane: nodes.map((n) => ({ name: n.options.name, address: n.options.host })),
    listeners: [
      { name: 'kubernetes', port: kubePort, targetPort: nodes[0].options.https!.port, targets: 'controlPlane' },
      { name: 'streams', port: streamPort, targetPort: nodes[0].options.port, targets: 'controlPlane' },
    ],
    healthCheck: { interval: '1s', fastInterval: '250ms', timeout: '500ms', healthyThreshold: 2, unhealthyThreshold: 2 },
    balancer: { bind: '127.0.0.1', admin: `127.0.0.1:${adminPort}`, watch: false },
  };
  const specText = stringify(spec);
  await writeFile(join(dir, 'endpoint.yaml'), specText);
  const engine = o.engine === 'serve' ? await serveEngine(join(dir, 'endpoint.yaml'), adminPort) : await haproxyEngine(dir, specText);
  let load: Load | undefined;
  let watch: ReturnType<typeof spawn> | undefined;
  try {
    await engine.waitHealthy(undefined);
    load = new Load({ port: streamPort, shortWorkers: 0, streams: o.streams, bulkWorkers: 0, bulkBytes: 0, answerTimeoutMs: 5000 });
    load.start();
    let watchOut = '';
    watch = spawn(process.execPath, ['--import', 'tsx', CLI, 'watch', '--endpoint', '127.0.0.1', '--port', String(kubePort), '--https', '/readyz', '--rate', `${o.rate}/s`, '--duration', '10m', '--timeout', '2s', '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    watch.stdout!.on('data', (d: Buffer) => { watchOut += d; });
    const watchEnded = new Promise<void>((resolve) => watch!.once('exit', () => resolve()));
    for (let i = 0; i < 100 && !watchOut.includes('"event":"start"'); i++) await sleep(100);
    await sleep(o.stepMs);
    for (const node of nodes) {
      const name = node.options.name;
      step(`${name}: drain`);
      await engine.drain(name);
      await sleep(o.stepMs);
      step(`${name}: stop (SIGTERM)`);
      await node.stop();
      await sleep(o.stepMs);
      step(`${name}: start`);
      await node.start();
      await engine.waitHealthy(name);
      step(`${name}: healthy`);
      await sleep(o.stepMs);
      await engine.undrain(name);
      step(`${name}: undrain`);
      await sleep(o.stepMs);
    }
    watch.kill('SIGINT');
    await watchEnded;
    await load.stop();
    const summary = watchOut.split('\n').map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return undefined; } }).find((l) => l?.event === 'summary') as { attempts: number; failed: number; outages: number; longestMs: number } | undefined;
    if (!summary) throw new Error(`watch printed no summary:\n${watchOut.slice(-2000)}`);
    return {
      engine: o.engine,
      seconds: (Date.now() - started) / 1000,
      watch: { attempts: summary.attempts, failed: summary.failed, outages: summary.outages, longestMs: summary.longestMs },
      streams: { cut: load.losses.length, reconnectMs: load.reconnectMs, failedReconnects: load.failures.length, integrityErrors: load.integrityErrors.length },
      steps,
    };
  } finally {
    watch?.kill('SIGKILL');
    await load?.stop();
    await engine.stop();
    await Promise.all(nodes.map((n: NodeProcess) => n.kill()));
    await rm(dir, { recursive: true, force: true });
  }
}

interface Engine {
  drain(node: string): Promise<void>;
  undrain(node: string): Promise<void>;
  /** Until `node` (or every server, when undefined) is up on every listener. */
  waitHealthy(node: string | undefined): Promise<void>;
  stop(): Promise<void>;
}

async function serveEngine(specPath: string, adminPort: number): Promise<Engine> {
  const serve: ServeProcess = await startServe(specPath, `http://127.0.0.1:${adminPort}`);
  return {
    drain: (node) => setAdminState(serve.adminUrl, node, 'drain'),
    undrain: (node) => setAdminState(serve.adminUrl, node, 'ready'),
    async waitHealthy(node) {
      if (node === undefined) return waitAllUp(serve);
      for (let i = 0; i < 200; i++) {
        const status = await serve.status();
        if (status.listeners.every((l) => l.servers.find((s) => s.name === node)?.state === 'up')) return;
        await sleep(100);
      }
      throw new Error(`${node} did not come up`);
    },
    async stop() { await serve.stop(5000); },
  };
}

/** HAProxy with the rendered config: minus chroot, user and syslog, its runtime API on a socket in `dir`. */
async function haproxyEngine(dir: string, specText: string): Promise<Engine> {
  const parsed = parseSpec(specText, 'endpoint.yaml');
  if (!parsed.spec) throw new Error(`drill spec: ${JSON.stringify(parsed.problems)}`);
  const socketPath = join(dir, 'admin.sock');
  const config = RENDERERS.haproxy.render(parsed.spec, { version: 'drill', specName: 'endpoint.yaml' })[0].contents
    .split('\n').filter((l) => !/^\s*(chroot|user |group |log \/dev\/log)/.test(l))
    .map((l) => (/^\s*stats socket /.test(l) ? `    stats socket ${socketPath} mode 600 level admin` : l)).join('\n');
  await writeFile(join(dir, 'haproxy.cfg'), config);
  const check = spawnSync('haproxy', ['-c', '-q', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy rejected the rendered config: ${check.stderr}`);
  const proc = spawn('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const command = (text: string) => new Promise<string>((resolve, reject) => {
    const socket = connect(socketPath);
    let out = '';
    socket.on('connect', () => socket.end(`${text}\n`));
    socket.on('data', (d) => { out += d; });
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
  const backends = ['kubernetes', 'streams'];
  const setState = async (node: string, state: 'drain' | 'ready') => {
    for (const backend of backends) {
      const out = await command(`set server ${backend}/${node} state ${state}`);
      if (out.trim() !== '') throw new Error(`haproxy: set server ${backend}/${node} state ${state}: ${out}`);
    }
  };
  return {
    drain: (node) => setState(node, 'drain'),
    undrain: (node) => setState(node, 'ready'),
    async waitHealthy(node) {
      for (let i = 0; i < 300; i++) {
        if (proc.exitCode !== null) throw new Error(`haproxy exited: ${stderr}`);
        // show servers state: "be_id be_name srv_id srv_name srv_addr srv_op_state …"; 2 = running.
        const out = await command('show servers state').catch(() => '');
        const rows = out.split('\n').map((l) => l.split(' ')).filter((f) => backends.includes(f[1]) && !f[3]?.endsWith('-fail-open'));
        const wanted = rows.filter((f) => node === undefined || f[3] === node);
        if (wanted.length > 0 && wanted.every((f) => f[5] === '2')) return;
        await sleep(100);
      }
      throw new Error(`haproxy: ${node ?? 'the servers'} did not come up`);
    },
    async stop() { proc.kill('SIGTERM'); const t = setTimeout(() => proc.kill('SIGKILL'), 3000); await exited; clearTimeout(t); },
  };
}

/** What the drill must show: no failed new connection, every cut stream back within 1 s. */
export function drillProblems(r: DrillReport): string[] {
  const problems: string[] = [];
  if (r.watch.attempts < 10) problems.push(`watch made only ${r.watch.attempts} attempts`);
  if (r.watch.failed > 0) problems.push(`${r.watch.failed} of ${r.watch.attempts} new connections (watch) failed, ${r.watch.outages} outage(s), longest ${r.watch.longestMs} ms`);
  if (r.streams.failedReconnects > 0) problems.push(`${r.streams.failedReconnects} stream reconnect(s) failed`);
  const slow = r.streams.reconnectMs.filter((ms) => ms > 1000);
  if (slow.length) problems.push(`${slow.length} cut stream(s) took more than 1 s to reconnect (${slow.join(', ')} ms)`);
  if (r.streams.integrityErrors) problems.push(`${r.streams.integrityErrors} stream integrity error(s)`);
  return problems;
}

export function formatDrill(r: DrillReport): string {
  const max = r.streams.reconnectMs.length ? Math.max(...r.streams.reconnectMs) : 0;
  return `${r.engine}: ${r.seconds.toFixed(0)} s; watch ${r.watch.attempts} new connections, ${r.watch.failed} failed, ${r.watch.outages} outage(s); streams cut ${r.streams.cut}, reconnected ${r.streams.reconnectMs.length} (slowest ${max} ms), failed reconnects ${r.streams.failedReconnects}`;
}
