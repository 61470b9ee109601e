// The soak (issue 9, "what to prove, continuously"): `serve` as a real child process in front of three node
// processes, under a mixed client load (short connections, watch-like streams, bulk transfers checked for
// integrity), while a driver kills and restarts servers, drains and undrains them, freezes one (SIGSTOP),
// reloads valid and hostile specs (alias bomb, huge file, half-written file, truncated file; an update the way
// kubelet makes it to a ConfigMap volume; a file written in place with the node list last and a pause at a
// node boundary) and exhausts the descriptors once. The spec lives in a ConfigMap-style directory
// (endpoint.yaml → ..data/endpoint.yaml), as in a pod. It reports, and `assertSoak` requires: no crash; no failed new connection while a
// server is healthy; no established connection lost except to a killed, frozen, drained-past-delay or down
// server; descriptors, handles and memory flat within a bound; the counters on /api/status equal to what the
// clients saw.
//
//   npm run soak [-- --duration 3m]        (the test suite runs a short one: test/soak/soak.test.ts)
import { spawnSync } from 'node:child_process';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { parseDuration } from '../../src/spec/duration.js';
import { tempSpec } from '../helpers/backends.js';
import { projectConfigMap } from '../helpers/configmap.js';
import { freePort } from '../helpers/net.js';
import { startNodeProcesses, type NodeProcess } from '../helpers/node-process.js';
import { Load } from './load.js';
import { SOAK_BOUNDS, soakProblems } from './verdict.js';
import { setAdminState, startServe, waitAllUp, type ResourceSample } from './serve-process.js';

export interface SoakOptions {
  /** Chaos phase length; the event script repeats until it is over (each event runs at least once). */
  durationMs: number;
  /** Descriptor limit for serve (prlimit); 0 skips the exhaustion event. */
  nofile: number;
  log(line: string): void;
}

/** What a server went through, as the driver did it or the status showed it. */
interface Episode { server: string; kind: 'killed' | 'frozen' | 'drained' | 'down' | 'exhaustion'; from: number; to: number }

export interface SoakReport {
  seconds: number;
  crashed: boolean;
  exitCode: number | null;
  errorLines: string[];
  events: string[];
  connections: number;
  shortOk: number;
  bulkOk: number;
  failures: Array<{ at: number; kind: string; reason: string; explainedBy?: string }>;
  losses: Array<{ at: number; kind: string; server?: string; reason: string; explainedBy?: string }>;
  integrityErrors: string[];
  reconnectMs: number[];
  stalls: number;
  servedBy: Record<string, number>;
  baseline: ResourceSample;
  final: ResourceSample;
  counters: { statusConnections: number; clientConnections: number; statusBytesIn: number; clientBytesWritten: number; statusBytesOut: number; clientBytesRead: number; failedConnections: number };
  exhaustion?: { held: number; refusedAfter: number; exhaustedCodes: Record<string, number> };
  reloads: Array<{ kind: string; outcome: string }>;
  /** What the servers went through, for explaining losses. */
  episodes: Array<{ server: string; kind: string; from: number; to: number }>;
  /** serve's whole log (JSON lines). */
  serveLog: string;
}


const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const say = options.log;
  const startedAt = Date.now();
  const nodes = await startNodeProcesses(['cp-01', 'cp-02', 'cp-03']);
  const port = await freePort();
  const sparePort = await freePort();
  const adminPort = await freePort();
  const nodePort = nodes[0].options.port;
  const base = {
    cluster: { name: 'soak' },
    endpoint: '127.0.0.1',
    controlPlane: nodes.map((n) => ({ name: n.options.name, address: n.options.host })),
    listeners: [
      { name: 'kubernetes', port, targetPort: nodePort, targets: 'controlPlane' },
      { name: 'spare', port: sparePort, targetPort: nodePort, targets: 'controlPlane' },
    ],
    healthCheck: { interval: '500ms', fastInterval: '200ms', timeout: '300ms', healthyThreshold: 2, unhealthyThreshold: 2 },
    deregistrationDelay: '2s',
    balancer: { bind: '127.0.0.1', admin: `127.0.0.1:${adminPort}`, watch: true, firstByteTimeout: '1s', maxConnections: 5000 },
  };
  // The node list last, as generators often write it: a file cut at a node boundary is a valid, shorter spec.
  const validText = (weight: number) => {
    const { controlPlane, ...rest } = base;
    return stringify({ ...rest, controlPlane: controlPlane.map((n, i) => (i === 0 ? { ...n, weight } : n)) });
  };
  const spec = await tempSpec('');
  // A ConfigMap volume: writes "in place" go through the links into the current data directory.
  const configDir = join(spec.dir, 'config');
  await mkdir(configDir);
  await projectConfigMap(configDir, { 'endpoint.yaml': validText(1) });
  const specPath = join(configDir, 'endpoint.yaml');
  const writeSpec = (text: string) => writeFile(specPath, text);
  const nofile = options.nofile > 0 && spawnSync('bash', ['-c', 'command -v prlimit'], { stdio: 'ignore' }).status === 0 ? options.nofile : 0;
  if (options.nofile > 0 && nofile === 0) say('prlimit (util-linux) is missing: no descriptor-exhaustion event');
  const serve = await startServe(specPath, `http://127.0.0.1:${adminPort}`, { nofile });
  const episodes: Episode[] = [];
  const events: string[] = [];
  const reloads: SoakReport['reloads'] = [];
  const event = (text: string) => { const line = `${new Date().toISOString().slice(11, 23)} ${text}`; events.push(line); say(line); };
  let exhaustion: SoakReport['exhaustion'];
  /** The chaos load (the exhaustion event pauses it). */
  let load: Load | undefined;
  let poller: NodeJS.Timeout | undefined;
  try {
    await waitAllUp(serve);
    // Warm up, then take the baseline with no client connected.
    const warm = new Load({ port, shortWorkers: 4, streams: 6, bulkWorkers: 2, bulkBytes: 2 << 20, answerTimeoutMs: 6000 });
    warm.start();
    await sleep(3000);
    await warm.stop();
    await sleep(1500);
    const baseline = await serve.sample();
    say(`baseline: ${baseline.descriptors} descriptors, ${baseline.handles} handles, ${(baseline.rssKiB / 1024).toFixed(1)} MiB RSS`);

    const chaos = new Load({ port, shortWorkers: 4, streams: 6, bulkWorkers: 2, bulkBytes: 4 << 20, answerTimeoutMs: 6000 });
    load = chaos;
    chaos.start();
    // Down periods as the status shows them (a frozen server may be marked down by passive health).
    const downSince = new Map<string, number>();
    poller = setInterval(() => {
      void serve.status().then((status) => {
        const now = Date.now();
        const down = new Set(status.listeners.flatMap((l) => l.servers.filter((s) => s.state !== 'up').map((s) => s.name)));
        for (const name of down) if (!downSince.has(name)) downSince.set(name, now);
        for (const [name, since] of downSince) if (!down.has(name)) { episodes.push({ server: name, kind: 'down', from: since - 500, to: now }); downSince.delete(name); }
      }, () => undefined);
    }, 200);

    const chaosEnds = Date.now() + options.durationMs;
    let exhausted = nofile === 0;
    for (let cycle = 0; cycle === 0 || Date.now() < chaosEnds; cycle++) {
      const victim = nodes[(cycle + 1) % 3];
      const drained = nodes[(cycle + 2) % 3];
      const frozen = nodes[cycle % 3];
      await killAndRestart(victim);
      await sleep(1000);
      await drainAndUndrain(drained);
      await sleep(1000);
      await freezeAndThaw(frozen);
      await sleep(1000);
      await reloadAll(cycle);
      if (!exhausted) {
        exhausted = true;
        exhaustion = await exhaustDescriptors();
      }
      await sleep(1000);
    }
    clearInterval(poller);
    for (const [name, since] of downSince) episodes.push({ server: name, kind: 'down', from: since - 500, to: Date.now() });
    await chaos.stop();
    await sleep(2500);
    const final = await serve.sample();
    const status = await serve.status();
    const k8s = status.listeners.find((l) => l.name === 'kubernetes')!;
    const crashedBeforeStop = !serve.running;
    const exit = await serve.stop();
    // Running out of descriptors may refuse new connections, never cut established ones: it explains failures only.
    const explain = (server: string | undefined, at: number): string | undefined => {
      const hit = episodes.find((e) => e.server === server && e.kind !== 'exhaustion' && at >= e.from - 500 && at <= e.to + 2000);
      return hit && `${hit.server} ${hit.kind}`;
    };
    const report: SoakReport = {
      seconds: (Date.now() - startedAt) / 1000,
      crashed: crashedBeforeStop || exit.code !== 0,
      exitCode: exit.code,
      errorLines: serve.output.split('\n').filter((l) => /"level":(50|60)/.test(l) && !/"event":"(reload|local-exhaustion)"/.test(l)),
      events,
      connections: warm.connections + chaos.connections,
      shortOk: warm.shortOk + chaos.shortOk,
      bulkOk: warm.bulkOk + chaos.bulkOk,
      failures: [...warm.failures, ...chaos.failures].map((f) => ({ ...f, explainedBy: episodes.find((e) => e.kind === 'exhaustion' && f.at >= e.from && f.at <= e.to + 2000) ? 'descriptor exhaustion' : undefined })),
      losses: [...warm.losses, ...chaos.losses].map((l) => ({ ...l, explainedBy: explain(l.server, l.at) })),
      integrityErrors: [...warm.integrityErrors, ...chaos.integrityErrors],
      reconnectMs: [...warm.reconnectMs, ...chaos.reconnectMs],
      stalls: chaos.stalls,
      servedBy: Object.fromEntries(chaos.servedBy),
      baseline,
      final,
      counters: {
        statusConnections: k8s.totalConnections, clientConnections: warm.connections + chaos.connections,
        statusBytesIn: k8s.bytesIn, clientBytesWritten: warm.bytesWritten + chaos.bytesWritten,
        statusBytesOut: k8s.bytesOut, clientBytesRead: warm.bytesRead + chaos.bytesRead,
        failedConnections: k8s.failedConnections,
      },
      ...(exhaustion ? { exhaustion } : {}),
      reloads,
      episodes,
      serveLog: serve.output,
    };
    return report;
  } finally {
    clearInterval(poller);
    // A failed run must not leave its clients running: stop them (bounded: a stop that hangs is abandoned).
    if (load) await Promise.race([load.stop(), sleep(10_000)]);
    if (serve.running) await serve.stop(3000);
    await Promise.all(nodes.map((n) => n.kill()));
    await spec.cleanup();
  }

  async function killAndRestart(node: NodeProcess): Promise<void> {
    const from = Date.now();
    event(`kill -9 ${node.options.name}`);
    await node.kill();
    await sleep(1500);
    await node.start();
    await waitAllUp(serve);
    episodes.push({ server: node.options.name, kind: 'killed', from, to: Date.now() });
    event(`${node.options.name} restarted and up`);
  }

  async function drainAndUndrain(node: NodeProcess): Promise<void> {
    const name = node.options.name;
    event(`drain ${name} (deregistration delay 2s)`);
    const from = Date.now();
    await setAdminState(serve.adminUrl, name, 'drain');
    await sleep(3000);
    await setAdminState(serve.adminUrl, name, 'ready');
    // Connections still open at the delay were closed: that is the contract, not a loss.
    episodes.push({ server: name, kind: 'drained', from: from + 2000 - 500, to: Date.now() });
    event(`undrain ${name}`);
  }

  async function freezeAndThaw(node: NodeProcess): Promise<void> {
    const name = node.options.name;
    event(`SIGSTOP ${name}`);
    const from = Date.now();
    node.freeze();
    await sleep(3000);
    node.thaw();
    event(`SIGCONT ${name}`);
    await waitAllUp(serve);
    episodes.push({ server: name, kind: 'frozen', from, to: Date.now() + 1000 });
  }

  /**
   * Writes `text` (in place, or as kubelet updates a ConfigMap) and optionally sends SIGHUP; waits for the reload it
   * causes; returns what lastReload says.
   */
  async function reloadWith(kind: string, text: string, hup: boolean, how: 'in place' | 'configmap' = 'in place'): Promise<void> {
    const before = (await serve.status()).lastReload?.at ?? 0;
    if (how === 'configmap') await projectConfigMap(configDir, { 'endpoint.yaml': text });
    else await writeSpec(text);
    if (hup) serve.signal('SIGHUP');
    let outcome = 'no reload recorded within 15 s';
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      await sleep(250);
      const status = await serve.status();
      const last = status.lastReload;
      if (last && last.at > before) { outcome = last.ok ? 'applied' : last.held ? 'held' : `refused: ${last.message.slice(0, 100)}`; break; }
    }
    const status = await serve.status();
    const servers = status.listeners.map((l) => l.servers.filter((s) => !s.removed).length);
    if (!serve.running) throw new Error(`serve died on the ${kind} spec:\n${serve.output.slice(-3000)}`);
    if (servers.join() !== '3,3') throw new Error(`after the ${kind} spec the listeners have ${servers.join(', ')} servers`);
    reloads.push({ kind, outcome });
    event(`reload: ${kind} → ${outcome}`);
  }

  /**
   * A writer that pauses at a node boundary with the node list last: the first part is a valid spec without the last
   * node. Nothing may be removed while it pauses; the complete file (a weight change) is then applied.
   */
  async function halfWrittenNodesLast(weight: number): Promise<void> {
    const kind = 'valid, nodes last, written in place with a 2.5 s pause before the last node';
    const before = (await serve.status()).lastReload?.at ?? 0;
    const full = validText(weight);
    const cut = full.lastIndexOf('  - name: cp-03');
    await writeSpec(full.slice(0, cut));
    const pauseEnds = Date.now() + 2500;
    let removed = '';
    while (Date.now() < pauseEnds) {
      await sleep(200);
      const counts = (await serve.status()).listeners.map((l) => l.servers.filter((s) => !s.removed).length);
      if (counts.join() !== '3,3') removed ||= `a server was removed while the file was half-written (${counts.join(', ')})`;
    }
    await appendFile(specPath, full.slice(cut));
    let outcome = removed || 'no reload recorded within 15 s';
    const deadline = Date.now() + 15_000;
    while (!removed && Date.now() < deadline) {
      await sleep(250);
      const last = (await serve.status()).lastReload;
      if (last && last.at > before) { outcome = last.ok ? 'applied' : `refused: ${last.message.slice(0, 100)}`; break; }
    }
    reloads.push({ kind, outcome });
    event(`reload: ${kind} → ${outcome}`);
  }

  async function reloadAll(cycle: number): Promise<void> {
    const valid = validText(cycle % 2 === 0 ? 2 : 1);
    await reloadWith('valid (weight change), SIGHUP', valid, true);
    await reloadWith('valid (weight change), a ConfigMap update (kubelet flips ..data), no signal', validText(cycle % 2 === 0 ? 3 : 4), false, 'configmap');
    await halfWrittenNodesLast(cycle % 2 === 0 ? 5 : 6);
    await reloadWith('valid (weight back), SIGHUP', valid, true);
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n');
    await reloadWith('alias bomb, SIGHUP', bomb, true);
    // SIGHUP: the watcher leaves a file it cannot read (over the size cap) alone, like one mid-replace.
    await reloadWith('huge file (2 MiB), SIGHUP', `${valid}${`# ${'x'.repeat(1022)}\n`.repeat(2048)}`, true);
    const lines = valid.split('\n');
    const halfWritten = lines.slice(0, lines.findIndex((l) => l.includes('cp-02'))).join('\n');
    await reloadWith('half-written file (one node of three)', halfWritten, false);
    await reloadWith('truncated mid-token', valid.slice(0, Math.floor(valid.length * 0.37)), false);
    // Back to the file that is serving: nothing to apply (and the last failure is cleared).
    await writeSpec(valid);
    await sleep(1500);
  }

  async function exhaustDescriptors(): Promise<NonNullable<SoakReport['exhaustion']>> {
    event('exhausting descriptors: short and bulk clients pause, idle streams fill the spare listener');
    const from = Date.now();
    load?.pause();
    await sleep(1500);
    const held: Socket[] = [];
    let refused = 0;
    let refusedAfter = 0;
    while (refused < 3 && held.length < 2000) {
      const socket = await openStream(sparePort);
      if (socket) { held.push(socket); refused = 0; } else { refused++; refusedAfter ||= held.length; }
    }
    event(`${held.length} streams held; new ones refused`);
    await sleep(2000);
    for (const socket of held) socket.destroy();
    let back = false;
    for (let i = 0; i < 40 && !back; i++) { await sleep(250); back = (await openStream(sparePort).then((s) => { s?.destroy(); return s !== undefined; })); }
    if (!back) throw new Error('no new connection after the descriptors were freed');
    const exhaustedCodes = (await serve.status()).resources?.exhausted ?? {};
    load?.resume();
    episodes.push({ server: '*', kind: 'exhaustion', from, to: Date.now() });
    event(`descriptors free again; exhausted counts ${JSON.stringify(exhaustedCodes)}`);
    return { held: held.length, refusedAfter, exhaustedCodes };
  }

}

/** A stream through `port`: resolves once its first tick arrives, or undefined when it does not within 1.5 s. */
function openStream(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => { socket.destroy(); resolve(undefined); }, 1500);
    socket.on('error', () => undefined);
    socket.once('connect', () => socket.write('WATCH\n'));
    socket.once('data', () => { clearTimeout(timer); resolve(socket); });
    socket.once('close', () => { clearTimeout(timer); resolve(undefined); });
  });
}

/** serve's log lines within 300 ms of each unexplained failure or loss: where to start looking. */
export function nearFailures(r: SoakReport): string {
  const moments = [...r.failures.filter((f) => !f.explainedBy).map((f) => f.at), ...r.losses.filter((l) => !l.explainedBy).map((l) => l.at)];
  return moments.map((at) => {
    const near = r.serveLog.split('\n').filter((l) => Math.abs(Number(/"time":(\d+)/.exec(l)?.[1]) - at) < 300 && !/both sides closed/.test(l));
    return `serve's log near ${new Date(at).toISOString()}:\n${near.slice(-15).map((l) => `  ${l.slice(0, 400)}`).join('\n')}\n`;
  }).join('');
}

/** The report as text: the figures the issue asks for. */
export function formatSoak(r: SoakReport): string {
  const unexplained = r.losses.filter((l) => !l.explainedBy);
  const failed = r.failures.filter((f) => !f.explainedBy);
  const max = r.reconnectMs.length ? Math.max(...r.reconnectMs) : 0;
  return [
    `soak: ${r.seconds.toFixed(0)} s, ${r.events.length} events, ${r.connections} client connections (${r.shortOk} short exchanges, ${r.bulkOk} bulk transfers verified), served by ${JSON.stringify(r.servedBy)}`,
    `crashes: ${r.crashed ? `YES (exit ${r.exitCode})` : 0}; error lines in serve's log (reload failures and exhaustion are expected and not listed): ${r.errorLines.length}`,
    `failed new connections: ${failed.length} (${r.failures.length - failed.length} during the descriptor exhaustion, expected)`,
    `lost established connections: ${r.losses.length}, of which unexplained: ${unexplained.length}; explained by ${[...new Set(r.losses.map((l) => l.explainedBy).filter(Boolean))].join(', ') || 'nothing'}`,
    `stream reconnects: ${r.reconnectMs.length}, slowest ${max} ms; stalls (frozen or draining server, not losses): ${r.stalls}`,
    `integrity errors: ${r.integrityErrors.length}`,
    `resources: descriptors ${r.baseline.descriptors} → ${r.final.descriptors}, handles ${r.baseline.handles} → ${r.final.handles}, RSS ${(r.baseline.rssKiB / 1024).toFixed(1)} → ${(r.final.rssKiB / 1024).toFixed(1)} MiB, heap ${(r.baseline.heapUsedKiB / 1024).toFixed(1)} → ${(r.final.heapUsedKiB / 1024).toFixed(1)} MiB (bounds +${SOAK_BOUNDS.descriptors}, +${SOAK_BOUNDS.handles}, +${SOAK_BOUNDS.rssMiB} MiB)`,
    `counters (kubernetes listener): connections ${r.counters.statusConnections} on /api/status, ${r.counters.clientConnections} by the clients; bytes in ${r.counters.statusBytesIn} / ${r.counters.clientBytesWritten} written; bytes out ${r.counters.statusBytesOut} / ${r.counters.clientBytesRead} read; no-server ${r.counters.failedConnections}`,
    r.exhaustion ? `descriptor exhaustion: ${r.exhaustion.held} streams held before new ones were refused; counted ${JSON.stringify(r.exhaustion.exhaustedCodes)}` : 'descriptor exhaustion: skipped',
    `reloads: ${r.reloads.map((x) => `${x.kind} → ${x.outcome}`).join('; ')}`,
    ...unexplained.map((l) => `  unexplained loss: ${new Date(l.at).toISOString()} ${l.kind} ${l.server ?? '?'} ${l.reason} (episodes then: ${r.episodes.filter((e) => l.at >= e.from - 3000 && l.at <= e.to + 3000).map((e) => `${e.server} ${e.kind} ${new Date(e.from).toISOString().slice(11, 23)}–${new Date(e.to).toISOString().slice(11, 23)}`).join(', ') || 'none'})`),
    ...failed.map((f) => `  failed: ${new Date(f.at).toISOString()} ${f.kind} ${f.reason}`),
    ...r.failures.filter((f) => f.explainedBy).map((f) => `  failed (${f.explainedBy}): ${new Date(f.at).toISOString()} ${f.kind} ${f.reason}`),
    ...r.integrityErrors.map((e) => `  integrity: ${e}`),
    ...r.errorLines.slice(0, 10).map((l) => `  error line: ${l.slice(0, 300)}`),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '3m' }, nofile: { type: 'string', default: '512' } } });
  const durationMs = parseDuration(values.duration);
  if (durationMs === undefined || durationMs > 3_600_000) throw new Error('--duration: a duration up to 1h, like 3m');
  const report = await runSoak({ durationMs, nofile: Number(values.nofile), log: (line) => process.stdout.write(`  ${line}\n`) });
  process.stdout.write(`${formatSoak(report)}\n`);
  const problems = soakProblems(report);
  process.stdout.write(nearFailures(report));
  process.stdout.write(problems.length ? `FAILED:\n${problems.map((p) => `- ${p}`).join('\n')}\n` : 'every bound held\n');
  process.exitCode = problems.length ? 1 : 0;
}

if (process.argv[1]?.endsWith('soak.ts')) {
  main().catch((error: unknown) => { process.stderr.write(`soak failed: ${error instanceof Error ? error.stack : String(error)}\n`); process.exit(1); });
}
