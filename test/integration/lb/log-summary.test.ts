// During an outage the log says so in a few lines, not one per refused client: per event and listener the first
// is logged at once, the rest are counted and summed up once per interval, exactly. Through the real balancer
// (startDaemon, as serve runs it) with every server down, and through `serve` itself, which writes what is
// still counted when it stops.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../../src/log.js';
import { startDaemon } from '../../../src/runtime/daemon.js';
import { specFor, startBackends, tempSpec } from '../../helpers/backends.js';
import { CLI, ROOT, TSX } from '../../helpers/cli.js';
import { freePort, waitFor } from '../../helpers/net.js';

interface LogLine { time: number; event?: string; listener?: string; repeated?: number; msg: string }

/** Opens `count` connections one after another; each sends a byte and waits until the balancer closes it. */
async function refusedConnections(port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.on('connect', () => socket.write('x'));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
      socket.resume();
    });
  }
}

/** Lines of one event, and how many occurrences they account for (1 for the first, `repeated` for a summary). */
function tally(lines: LogLine[], event: string): { lines: LogLine[]; occurrences: number } {
  const of = lines.filter((l) => l.event === event);
  return { lines: of, occurrences: of.reduce((sum, l) => sum + (l.repeated ?? 1), 0) };
}

test('every server down: the first refused client at once, then one line per interval with the exact count', async (t) => {
  const backends = await startBackends(['cp-01', 'cp-02']);
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const port = await freePort();
  const spec = await tempSpec(specFor({ port, adminPort: await freePort(), backends, balancer: { retries: 1 } }));
  t.after(() => spec.cleanup());
  const lines: LogLine[] = [];
  const destination = new Writable({ write(chunk, _encoding, callback) { for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as LogLine); callback(); } });
  const intervalMs = 1000;
  const daemon = await startDaemon({ specPath: spec.path, logger: createLogger({ destination, level: 'info', pretty: false, repeatIntervalMs: intervalMs }) });
  t.after(() => daemon.close());
  await waitFor(() => daemon.snapshot().listeners[0].servers.every((s) => s.state === 'up'), 10_000);
  for (const backend of backends) await backend.kill();

  const started = Date.now();
  const first = refusedConnections(port, 1);
  await first;
  // The first one is news: logged at once, not at the end of the interval.
  assert.ok(await waitFor(() => tally(lines, 'no-server').lines.length === 1, 500), 'the first refused client is logged at once');
  assert.ok(tally(lines, 'no-server').lines[0].time - started < intervalMs);
  await refusedConnections(port, 399);
  const refused = () => daemon.snapshot().listeners[0].failedConnections;
  assert.equal(refused(), 400);
  // The counts come out at the end of each interval; a quiet interval ends the run.
  assert.ok(await waitFor(() => tally(lines, 'no-server').occurrences === 400, 5 * intervalMs), JSON.stringify(tally(lines, 'no-server').lines));
  const run = tally(lines, 'no-server').lines;
  assert.ok(run.length <= 1 + Math.ceil((Date.now() - started) / intervalMs), `${run.length} lines for 400 refused clients`);
  assert.match(run.at(-1)!.msg, /^kubernetes: no server for \d+ more connection\(s\) in the last \d+s$/);
  assert.equal(run.slice(1).every((l) => (l.repeated ?? 0) > 0 && l.listener === 'kubernetes'), true);

  // After a quiet interval, the next refused client is news again: logged at once.
  await new Promise((r) => setTimeout(r, 2 * intervalMs + 200));
  const before = run.length;
  await refusedConnections(port, 1);
  assert.ok(await waitFor(() => tally(lines, 'no-server').lines.length === before + 1, 500), 'logged at once after a quiet interval');
  assert.equal(tally(lines, 'no-server').lines.at(-1)!.repeated, undefined);
});

test('serve: 200 refused clients are two lines, and the second is written when serve stops', async (t) => {
  const backends = await startBackends(['cp-01']);
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const port = await freePort();
  const adminPort = await freePort();
  const spec = await tempSpec(specFor({ port, adminPort, backends, balancer: { retries: 0 } }));
  t.after(() => spec.cleanup());
  const child = spawn(process.execPath, ['--import', TSX, CLI, 'serve', '-c', spec.path], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.ok(await waitFor(() => stderr.includes('"to":"up"'), 30_000), stderr);
  await backends[0].kill();
  await refusedConnections(port, 200);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as LogLine);
  const { lines: noServer, occurrences } = tally(lines, 'no-server');
  assert.equal(occurrences, 200, JSON.stringify(noServer));
  assert.ok(noServer.length <= 3, `${noServer.length} lines`);
  // The first at once; the rest counted, and written out at SIGTERM rather than lost with the process.
  assert.equal(noServer[0].repeated, undefined);
  assert.ok((noServer.at(-1)!.repeated ?? 0) > 0);
});
