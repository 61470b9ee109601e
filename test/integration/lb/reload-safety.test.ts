// Reloads that real operators trigger: hostile or huge files, half-written files, a watcher and a SIGHUP
// for the same write, a truncated file that would remove most servers (issue 9, items 1, 2 and 5).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { appendFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { createLogger } from '../../../src/log.js';
import { startDaemon } from '../../../src/runtime/daemon.js';
import { exchange, specFor, startBackends, tempSpec } from '../../helpers/backends.js';
import { freePort, waitFor } from '../../helpers/net.js';

async function watchedStack(names: string[]) {
  const backends = await startBackends(names);
  const specValue = specFor({ port: await freePort(), adminPort: await freePort(), backends, balancer: { watch: true } });
  const spec = await tempSpec(specValue);
  const lines: string[] = [];
  const logger = createLogger({ pretty: false, destination: new Writable({ write(chunk, _e, done) { lines.push(...String(chunk).split('\n').filter(Boolean)); done(); } }) });
  const daemon = await startDaemon({ specPath: spec.path, logger });
  const port = (specValue.listeners as Array<{ port: number }>)[0].port;
  const servers = () => daemon.snapshot().listeners[0].servers.filter((s) => !s.removed);
  await waitFor(() => servers().every((s) => s.state === 'up'), 5000);
  return {
    daemon, spec, specValue, port, lines, servers,
    async close() {
      await daemon.destroy();
      await Promise.all(backends.map((b) => b.close()));
      await spec.cleanup();
    },
  };
}

const BILLION_LAUGHS = Array.from({ length: 9 }, (_, i) => {
  const name = String.fromCharCode(97 + i);
  const item = i === 0 ? '"lol"' : `*${String.fromCharCode(96 + i)}`;
  return `${name}: &${name} [${Array(9).fill(item).join(',')}]`;
}).join('\n');

test('an alias bomb written over the watched spec: the reload fails with file and line, serve keeps serving', async (t) => {
  const stack = await watchedStack(['cp-01', 'cp-02']);
  t.after(() => stack.close());
  await writeFile(stack.spec.path, `${stringify(stack.specValue)}${BILLION_LAUGHS}\n`);
  const record = await waitFor(() => stack.daemon.snapshot().lastReload, 10_000);
  assert.ok(record, 'the watcher tried the new file');
  assert.equal(record.ok, false);
  assert.match(record.problems?.join('\n') ?? '', new RegExp(`${stack.spec.path}:\\d+:\\d+: error: the spec expands YAML aliases`));
  assert.match(await exchange(stack.port, 'still-here'), /still-here/);
  assert.equal(stack.servers().length, 2);
});

test('a large spec is parsed off the event loop: connections are carried while it parses, and the log line stays short', async (t) => {
  const stack = await watchedStack(['cp-01', 'cp-02']);
  t.after(() => stack.close());
  // 40,000 unknown keys (about 700 KiB): seconds of YAML work, all of it on the parser's thread.
  const junk = Array.from({ length: 40_000 }, (_, i) => `k${i}: ${i}`).join('\n');
  await writeFile(stack.spec.path, `${stringify(stack.specValue)}${junk}\n`);
  let settled = false;
  const reload = stack.daemon.reload().then((record) => { settled = true; return record; });
  const replies: string[] = [];
  while (!settled && replies.length < 200) replies.push(await exchange(stack.port, `during-${replies.length}`));
  const record = await reload;
  assert.equal(record.ok, false);
  assert.ok(replies.length >= 3, `only ${replies.length} exchange(s) completed while the reload parsed`);
  assert.match(record.problems?.at(-1) ?? '', /more problem\(s\) not shown/);
  const longest = Math.max(...stack.lines.map((l) => l.length));
  assert.ok(longest < 30_000, `a log line of ${longest} bytes`);
});

test('a file over the size limit is refused without reading it whole, by the watcher as by SIGHUP', async (t) => {
  const stack = await watchedStack(['cp-01']);
  t.after(() => stack.close());
  await writeFile(stack.spec.path, `${stringify(stack.specValue)}# ${'x'.repeat(1_100_000)}\n`);
  const watched = await waitFor(() => stack.daemon.snapshot().lastReload, 10_000);
  assert.equal(watched?.ok, false, 'the watcher reports it');
  assert.match(watched?.message ?? '', /larger than 1 MiB/);
  const record = await stack.daemon.reload();
  assert.equal(record.ok, false);
  assert.match(record.message, /larger than 1 MiB/);
  assert.match(await exchange(stack.port, 'ok'), /ok/);
});

test('a file written in two parts 600 ms apart is applied once, complete; a SIGHUP for the same write applies nothing more', async (t) => {
  const stack = await watchedStack(['cp-01', 'cp-02', 'cp-03']);
  t.after(() => stack.close());
  const full = stringify({ ...stack.specValue, deregistrationDelay: '2s', healthCheck: { ...(stack.specValue.healthCheck as object), interval: '250ms' } });
  // The first part is a valid spec on its own (it ends before healthCheck and deregistrationDelay).
  const cut = full.indexOf('healthCheck:');
  assert.ok(cut > 0);
  const seen = new Set<number>();
  const poll = setInterval(() => seen.add(stack.daemon.snapshot().spec.loadedAt), 20);
  t.after(() => clearInterval(poll));
  await writeFile(stack.spec.path, full.slice(0, cut));
  await new Promise((r) => setTimeout(r, 600));
  await appendFile(stack.spec.path, full.slice(cut));
  const applied = await waitFor(() => (stack.daemon.snapshot().reloads?.ok ?? 0) >= 1, 10_000);
  assert.ok(applied, 'the watcher applied the file');
  await new Promise((r) => setTimeout(r, 1500));
  const manual = await stack.daemon.reload();
  assert.equal(manual.unchanged, true, 'SIGHUP after the watcher: the same content is not applied again');
  const snapshot = stack.daemon.snapshot();
  assert.deepEqual(snapshot.reloads, { ok: 1, failed: 0 }, 'one reload for one change');
  assert.equal(seen.size, 2, 'the config changed once: start, then the complete file');
  assert.equal(stack.servers().length, 3);
});

test('the watcher holds a change that would remove most servers; SIGHUP applies it', async (t) => {
  const stack = await watchedStack(['cp-01', 'cp-02', 'cp-03']);
  t.after(() => stack.close());
  const truncated = structuredClone(stack.specValue) as { controlPlane: unknown[] };
  truncated.controlPlane = truncated.controlPlane.slice(0, 1);
  await writeFile(stack.spec.path, stringify(truncated));
  const record = await waitFor(() => stack.daemon.snapshot().lastReload, 10_000);
  assert.equal(record?.held, true);
  assert.match(record?.message ?? '', /removes 2 of 3 servers .*held.*SIGHUP/);
  assert.equal(stack.servers().length, 3, 'nothing removed');
  assert.ok(stack.lines.some((l) => /"level":50/.test(l) && /held/.test(l)), 'logged at error level');
  const confirmed = await stack.daemon.reload('signal');
  assert.equal(confirmed.ok, true);
  assert.equal(stack.servers().length, 1);
});
