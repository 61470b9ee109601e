// The spec delivered the way operators deliver it (issue 24, items 1-4; issue 23, item 8): a Kubernetes
// ConfigMap volume flipping its ..data link, a writer pausing between two nodes, a FIFO or a hung mount at
// the spec path, a reverted bad edit, a hostile 1 MiB file — each against a real serve (in-process, or as a
// child process when signals and memory are what is tested).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { createLogger } from '../../../src/log.js';
import { REMOVAL_CONFIRM_MS, startDaemon, type Daemon } from '../../../src/runtime/daemon.js';
import { exchange, specFor, startBackends, type Backend } from '../../helpers/backends.js';
import { requireOrSkip, runCli } from '../../helpers/cli.js';
import { projectConfigMap } from '../../helpers/configmap.js';
import { hungMountUnavailable, mountHung } from '../../helpers/hung-mount.js';
import { freePort, waitFor } from '../../helpers/net.js';
import { startServe, waitAllUp } from '../../soak/serve-process.js';

/** The spec as text with the node list last, as many generators write it. */
function nodesLast(value: Record<string, unknown>): string {
  const { controlPlane, ...rest } = value;
  return stringify({ ...rest, controlPlane });
}

interface Stack {
  daemon: Daemon;
  backends: Backend[];
  value: Record<string, unknown>;
  port: number;
  lines: string[];
  servers(): string[];
  close(): Promise<void>;
}

/** serve in this process, watching `specPath`, whose text `write` puts there first. */
async function watchedStack(names: string[], specPath: string, write: (text: string) => Promise<void>): Promise<Stack> {
  const backends = await startBackends(names);
  const port = await freePort();
  const value = specFor({ port, adminPort: await freePort(), backends, balancer: { watch: true }, deregistrationDelay: '30s' });
  await write(nodesLast(value));
  const lines: string[] = [];
  const logger = createLogger({ pretty: false, level: 'debug', destination: new Writable({ write(chunk, _e, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done(); } }) });
  const daemon = await startDaemon({ specPath, logger });
  const servers = () => daemon.snapshot().listeners[0].servers.filter((s) => !s.removed).map((s) => s.name);
  await waitFor(() => daemon.snapshot().listeners[0].servers.every((s) => s.state === 'up'), 5000);
  return {
    daemon, backends, value, port, lines, servers,
    async close() {
      await daemon.destroy();
      await Promise.all(backends.map((b) => b.close()));
    },
  };
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ce-delivery-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('a ConfigMap volume: each update kubelet makes (a new ..data link) is applied, and logged', async (t) => {
  const dir = join(await tempDir(t), 'config');
  await mkdir(dir);
  const stack = await watchedStack(['cp-01', 'cp-02', 'cp-03'], join(dir, 'endpoint.yaml'), (text) => projectConfigMap(dir, { 'endpoint.yaml': text }));
  t.after(() => stack.close());
  // Three updates, as in the report (3 of 3 missed): two weight changes, then a new deregistration delay.
  for (const [round, change] of [[1, { weight: 3 }], [2, { weight: 5 }], [3, { weight: 7 }]] as const) {
    const value = structuredClone(stack.value) as { controlPlane: Array<Record<string, unknown>> };
    value.controlPlane[0] = { ...value.controlPlane[0], ...change };
    await projectConfigMap(dir, { 'endpoint.yaml': nodesLast(value) });
    const applied = await waitFor(() => stack.daemon.snapshot().listeners[0].servers.find((s) => s.name === 'cp-01')?.weight === change.weight, 8000);
    assert.ok(applied, `update ${round} (weight ${change.weight}) was not applied:\n${stack.lines.slice(-5).join('\n')}`);
    assert.equal(stack.daemon.snapshot().reloads?.ok, round);
  }
  assert.ok(stack.lines.some((l) => /"msg":"reloaded /.test(l)), 'each reload is logged');
  assert.ok(stack.lines.some((l) => /\.\.data changed/.test(l)), 'the link flip is what the watcher saw');
});

test('a writer that pauses between two nodes (node list last) removes nothing; a real removal is applied once the file stays the same', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'endpoint.yaml');
  const stack = await watchedStack(['cp-01', 'cp-02', 'cp-03'], path, (text) => writeFile(path, text));
  t.after(() => stack.close());
  const full = nodesLast(stack.value);
  // Cut at the start of the last node: the first part is a complete, valid spec with two nodes.
  const cut = full.lastIndexOf('  - name: cp-03');
  assert.ok(cut > 0);
  const seen = new Set<string>();
  const poll = setInterval(() => seen.add(stack.servers().join(',')), 20);
  t.after(() => clearInterval(poll));
  await writeFile(path, full.slice(0, cut));
  await new Promise((r) => setTimeout(r, 2500)); // well past the watcher's settle time
  await appendFile(path, full.slice(cut));
  await new Promise((r) => setTimeout(r, 1500));
  clearInterval(poll);
  assert.deepEqual([...seen], ['cp-01,cp-02,cp-03'], 'cp-03 was never removed');
  assert.equal(stack.daemon.snapshot().reloads?.failed ?? 0, 0, 'a pending removal is not a failed reload');
  assert.ok(stack.lines.some((l) => /"pending":true/.test(l) && /removes 1 of 3 servers \(kubernetes\/cp-03\): applied if .* stays as it is for 10s/.test(l)), 'the wait is logged');
  assert.match(await exchange(stack.port, 'after'), /after/);

  // The same shorter file, left alone: applied after REMOVAL_CONFIRM_MS.
  const started = Date.now();
  await writeFile(path, full.slice(0, cut));
  assert.ok(await waitFor(() => stack.servers().length === 2, REMOVAL_CONFIRM_MS + 8000, 100), 'the removal was applied');
  const tookMs = Date.now() - started;
  assert.ok(tookMs >= REMOVAL_CONFIRM_MS, `applied after ${tookMs} ms`);
  assert.ok(stack.lines.some((l) => /stayed the same for 10s/.test(l)));
});

test('a failed reload is cleared when the file is the serving config again, by the watcher or by SIGHUP (issue 23, item 8)', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'endpoint.yaml');
  const stack = await watchedStack(['cp-01', 'cp-02'], path, (text) => writeFile(path, text));
  t.after(() => stack.close());
  const good = await readFile(path, 'utf8');
  for (const how of ['watch', 'signal'] as const) {
    await writeFile(path, good.replace('controlPlane:', 'controlPlane: [\n'));
    const failed = await waitFor(() => stack.daemon.snapshot().lastReload?.ok === false, 8000);
    assert.ok(failed, `the bad edit failed:\n${stack.lines.slice(-8).join('\n')}`);
    await writeFile(path, good);
    if (how === 'signal') await stack.daemon.reload('signal');
    const cleared = await waitFor(() => stack.daemon.snapshot().lastReload?.ok === true, 8000);
    assert.ok(cleared, `${how}: reverting the edit cleared the failure`);
    assert.match(stack.daemon.snapshot().lastReload?.message ?? '', /is the config that is serving again; the failed reload is cleared/);
    const metrics = await (await fetch(`${stack.daemon.adminUrl}/metrics`)).text();
    assert.match(metrics, /^cluster_endpoint_config_last_reload_successful 1$/m);
  }
  // Nothing was applied: the config that serves was never replaced.
  assert.deepEqual(stack.servers(), ['cp-01', 'cp-02']);
});

test('a FIFO at the spec path: the reload says so at once, later reloads work, nothing waits on it', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'endpoint.yaml');
  const stack = await watchedStack(['cp-01'], path, (text) => writeFile(path, text));
  t.after(() => stack.close());
  const good = await readFile(path, 'utf8');
  assert.equal(spawnSync('mkfifo', [join(dir, 'fifo')]).status, 0);
  await rename(join(dir, 'fifo'), path);
  // Should a reader still wait on the FIFO, a writer that opens and closes it lets the reader go (and this process exit).
  t.after(() => { try { closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK)); } catch { /* no reader waits */ } });
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    const record = await Promise.race([stack.daemon.reload('signal'), new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('the reload waits on the FIFO')), 5000))]);
    assert.ok(Date.now() - started < 2000);
    assert.equal(record.ok, false);
    assert.match(record.message, /is a FIFO \(named pipe\), not a regular file/);
  }
  const value = structuredClone(stack.value) as { controlPlane: Array<Record<string, unknown>> };
  value.controlPlane[0].weight = 9;
  await rm(path);
  await writeFile(path, nodesLast(value));
  assert.notEqual(good, nodesLast(value));
  const record = await stack.daemon.reload('signal');
  assert.equal(record.ok, true, record.message);
  assert.match(await exchange(stack.port, 'ok'), /ok/);
});

test('serve: SIGHUP says what it did; with a FIFO at the spec path SIGTERM still stops it at once', async (t) => {
  const dir = await tempDir(t);
  const backends = await startBackends(['cp-01']);
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const adminPort = await freePort();
  const path = join(dir, 'endpoint.yaml');
  await writeFile(path, stringify(specFor({ port: await freePort(), adminPort, backends })));
  const serve = await startServe(path, `http://127.0.0.1:${adminPort}`);
  t.after(() => { serve.signal('SIGKILL'); });
  await waitAllUp(serve);
  serve.signal('SIGHUP');
  assert.ok(await waitFor(() => /SIGHUP: reloading/.test(serve.output) && /unchanged; nothing to apply/.test(serve.output), 8000), serve.output.slice(-2000));
  assert.equal(spawnSync('mkfifo', [join(dir, 'fifo')]).status, 0);
  await rename(join(dir, 'fifo'), path);
  serve.signal('SIGHUP');
  assert.ok(await waitFor(() => /is a FIFO \(named pipe\)/.test(serve.output), 8000), serve.output.slice(-2000));
  const started = Date.now();
  const { code } = await serve.stop(15_000);
  assert.equal(code, 0, serve.output.slice(-2000));
  assert.ok(Date.now() - started < 10_000, `stopped after ${Date.now() - started} ms`);
});

test('serve: a hung mount under the spec path fails the reload after its deadline, never wedges later ones, and SIGTERM ends serve', async (t) => {
  const unavailable = hungMountUnavailable();
  if (!requireOrSkip(t, unavailable === undefined, unavailable ?? '')) return;
  const root = await tempDir(t);
  const dir = join(root, 'etc');
  await mkdir(dir);
  const backends = await startBackends(['cp-01']);
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const adminPort = await freePort();
  const port = await freePort();
  const path = join(dir, 'endpoint.yaml');
  await writeFile(path, stringify(specFor({ port, adminPort, backends })));
  const serve = await startServe(path, `http://127.0.0.1:${adminPort}`);
  t.after(() => { serve.signal('SIGKILL'); });
  await waitAllUp(serve);
  // Released before anything else touches the directory (this process would hang on it too).
  const mount = mountHung(dir);
  try {
    serve.signal('SIGHUP');
    assert.ok(await waitFor(() => /could not be read within 5s: the file system is not answering/.test(serve.output), 12_000), serve.output.slice(-2000));
    serve.signal('SIGHUP');
    assert.ok(await waitFor(() => /an earlier read has not returned/.test(serve.output), 5000), serve.output.slice(-2000));
    // Still carrying connections, still answering its admin API.
    assert.match(await exchange(port, 'alive'), /alive/);
    assert.equal((await serve.status()).lastReload?.ok, false);
    const started = Date.now();
    const { code, signal } = await serve.stop(15_000);
    assert.ok(Date.now() - started < 10_000, `stopped after ${Date.now() - started} ms`);
    assert.ok(signal === 'SIGTERM' || code === 0, `exit ${code} ${signal}`);
    assert.match(serve.output, /is still stuck in the kernel: exiting by SIGTERM/);
  } finally {
    mount.release();
  }
});

test('validate on a spec under a hung mount: the error after the deadline, and the command ends', async (t) => {
  const unavailable = hungMountUnavailable();
  if (!requireOrSkip(t, unavailable === undefined, unavailable ?? '')) return;
  const dir = join(await tempDir(t), 'etc');
  await mkdir(dir);
  const mount = mountHung(dir);
  try {
    const started = Date.now();
    const result = await runCli(['validate', '-c', join(dir, 'endpoint.yaml')], { timeoutMs: 30_000 });
    assert.ok(Date.now() - started < 20_000, `ended after ${Date.now() - started} ms`);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /could not be read within 5s: the file system is not answering/);
  } finally {
    mount.release();
  }
});

test('serve: a 1 MiB spec nested deeply is refused as SPEC_LIMIT and costs serve no memory to speak of', async (t) => {
  const dir = await tempDir(t);
  const backends = await startBackends(['cp-01']);
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const adminPort = await freePort();
  const path = join(dir, 'endpoint.yaml');
  const good = stringify(specFor({ port: await freePort(), adminPort, backends }));
  await writeFile(path, good);
  const serve = await startServe(path, `http://127.0.0.1:${adminPort}`);
  t.after(() => { serve.signal('SIGKILL'); });
  await waitAllUp(serve);
  const rss = async () => Number(/^VmRSS:\s+(\d+)/m.exec(await readFile(`/proc/${serve.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  const before = await rss();
  let peak = before;
  const sampler = setInterval(() => void rss().then((v) => { peak = Math.max(peak, v); }, () => undefined), 20);
  t.after(() => clearInterval(sampler));
  const room = 1024 * 1024 - good.length - 16;
  for (const nested of [`${good}x: ${'['.repeat(room / 2)}${']'.repeat(room / 2)}\n`, `${good}x:\n  ${'- '.repeat(room / 2)}1\n`]) {
    await writeFile(path, nested);
    serve.signal('SIGHUP');
    const record = await waitFor(async () => { const r = (await serve.status()).lastReload; return r && !r.ok ? r : undefined; }, 15_000);
    assert.ok(record, serve.output.slice(-2000));
    assert.match(record.problems?.join('\n') ?? '', /error: the spec nests more than 64 levels deep here/);
    await writeFile(path, good);
    serve.signal('SIGHUP');
    assert.ok(await waitFor(async () => (await serve.status()).lastReload?.ok === true, 10_000));
  }
  clearInterval(sampler);
  assert.ok(peak - before < 100, `RSS grew by ${(peak - before).toFixed(0)} MiB (from ${before.toFixed(0)})`);
  assert.equal((await serve.stop()).code, 0);
});
