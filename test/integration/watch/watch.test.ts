// watch against real servers on 127.0.0.1 that stop for about a second and come back; what each check
// counts as up; and the live line on a terminal.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createCa, issueCertificate } from '../../../src/tls/certs.js';
import { CLI, requireOrSkip, ROOT, TSX } from '../../helpers/cli.js';
import { freePort } from '../../helpers/net.js';
import { runCommand } from '../probe/in-process.js';

const HOST = '127.0.0.1';

/** A listening server that can be stopped (closing every connection) and started again on the same port. */
function flappingServer(make: () => Server, port: number) {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    async start() {
      server = make();
      server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => undefined); });
      await new Promise<void>((resolve, reject) => { server?.once('error', reject); server?.listen(port, HOST, () => resolve()); });
    },
    async stop() {
      const s = server;
      server = undefined;
      for (const socket of sockets) socket.destroy();
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}

interface Line { event: string; lengthMs?: number; failedAttempts?: number; outages?: number; attempts?: number; windows?: unknown[]; errors?: Record<string, number> }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a TCP server down for ~1 s during a 4 s watch at 50/s: one window of about that length', async () => {
  const port = await freePort();
  const server = flappingServer(() => createServer((s) => s.end('hello\n')), port);
  await server.start();
  const outage = (async () => {
    await sleep(1200);
    const down = Date.now(); // close() stops accepting at once; its callback may come later on a busy machine
    await server.stop();
    await sleep(1000 - (Date.now() - down));
    await server.start();
    return Date.now() - down;
  })();
  try {
    const result = await runCommand('watch', ['--endpoint', HOST, '--port', String(port), '--rate', '50/s', '--duration', '4s', '--json']);
    const downMs = await outage;
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
    assert.deepEqual(lines.map((l) => l.event), ['start', 'outage-start', 'outage-end', 'summary']);
    const window = lines[2];
    assert.ok(Math.abs((window.lengthMs ?? 0) - downMs) <= 300, `window ${window.lengthMs}ms vs server down ${downMs}ms`);
    assert.ok((window.failedAttempts ?? 0) >= 35 && (window.failedAttempts ?? 0) <= 70, `failed attempts ${window.failedAttempts}`);
    // Refused while it is down; a connection in flight when it stopped is reset before its first byte.
    const errors = Object.keys(window.errors ?? {});
    assert.ok(errors.includes('ECONNREFUSED') && errors.every((e) => ['ECONNREFUSED', 'ECONNRESET'].includes(e)), errors.join());
    const summary = lines[3];
    assert.equal(summary.outages, 1);
    assert.ok((summary.attempts ?? 0) >= 180 && (summary.attempts ?? 0) <= 201, `attempts ${summary.attempts}`);
  } finally {
    await outage.catch(() => undefined);
    await server.stop();
  }
});

test('--https: a request per new connection; a server answering 503 for ~1 s is an outage', async () => {
  const ca = await createCa('watch test CA');
  const tls = await issueCertificate(ca, { commonName: 'kube-apiserver', sans: [HOST] });
  let status = 200;
  const port = await freePort();
  const server = flappingServer(() => createHttpsServer({ cert: tls.cert, key: tls.key }, (req, res) => res.writeHead(req.url === '/readyz' ? status : 404).end('ok')) as unknown as Server, port);
  await server.start();
  const flip = (async () => { await sleep(800); status = 503; await sleep(1000); status = 200; })();
  try {
    const result = await runCommand('watch', ['--endpoint', HOST, '--port', String(port), '--rate', '20/s', '--duration', '3s', '--https', '/readyz']);
    await flip;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^watching 127\.0\.0\.1:\d+ \(https \/readyz\) at 20\/s for 3s/);
    assert.match(result.stdout, /\d\d:\d\d:\d\d\.\d{3} {2}outage started \(HTTP 503\)/);
    const ended = /outage ended after ([\d.]+)(ms|s): (\d+) failed attempt\(s\) \(HTTP 503 ×\d+\)/.exec(result.stdout);
    assert.ok(ended, result.stdout);
    const ms = Number(ended[1]) * (ended[2] === 's' ? 1000 : 1);
    assert.ok(ms >= 800 && ms <= 1300, `${ms}ms`);
    assert.match(result.stdout, /summary: \d+ attempts in [\d.]+s, \d+ failed \([\d.]+% succeeded\), 1 outage\(s\), longest/);
    assert.match(result.stdout, /\n {2}1 {2}\d\d:\d\d:\d\d\.\d{3} {2}\d\d:\d\d:\d\d\.\d{3} {2}[\d.]+m?s\s+\d+\s+HTTP 503 ×\d+\n$/);
  } finally {
    await flip;
    await server.stop();
  }
});

test('SIGINT stops the watch early and prints the summary (real CLI process)', async (t) => {
  const port = await freePort();
  const server = flappingServer(() => createServer((s) => s.end('hello\n')), port);
  await server.start();
  t.after(() => server.stop());
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'watch', '--endpoint', HOST, '--port', String(port), '--rate', '10/s', '--duration', '2m', '--json'], { cwd: ROOT });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d; });
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const deadline = Date.now() + 45_000;
    while (!stdout.includes('"event":"start"') && Date.now() < deadline) await sleep(50);
    await sleep(700);
    const sent = Date.now();
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0);
    assert.ok(Date.now() - sent < 5000, 'it stopped promptly');
    const summary = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Line & { interrupted: boolean };
    assert.equal(summary.event, 'summary');
    assert.equal(summary.interrupted, true);
    assert.ok((summary.attempts ?? 0) >= 3, stdout);
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('tcp check: a server that accepts and closes before any byte is down; one that stays quiet is up', async () => {
  const closing = createServer((s) => s.destroy());
  const quiet = createServer(() => undefined);
  const sockets = new Set<Socket>();
  quiet.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => undefined); });
  const ports: number[] = [];
  for (const server of [closing, quiet]) {
    await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()));
    ports.push((server.address() as { port: number }).port);
  }
  try {
    const [closed, open] = await Promise.all(ports.map((port) => runCommand('watch', ['--endpoint', HOST, '--port', String(port), '--rate', '20/s', '--duration', '1s', '--json'])));
    const summary = (r: { stdout: string }) => JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Line & { failed: number };
    assert.equal(JSON.parse(closed.stdout.split('\n')[0]).mode, 'tcp');
    assert.equal(summary(closed).failed, summary(closed).attempts, closed.stdout);
    const errors = Object.keys((summary(closed).windows?.[0] as { errors?: object } | undefined)?.errors ?? {});
    assert.ok(errors.length > 0 && errors.every((e) => ['closed', 'ECONNRESET'].includes(e)), errors.join());
    assert.equal(summary(open).failed, 0, open.stdout);
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all([closing, quiet].map((server) => new Promise((r) => server.close(r))));
  }
});

test('the default check follows the port without a spec: 6443-like ports get https /readyz, others tcp; --check and --expect override', async () => {
  const port = await freePort();
  const server = flappingServer(() => createServer((s) => s.end('hello\n')), port);
  await server.start();
  try {
    const start = async (args: string[]) => JSON.parse((await runCommand('watch', ['--endpoint', HOST, '--rate', '5', '--duration', '200ms', '--json', ...args])).stdout.split('\n')[0]) as { mode: string; expect?: number[] };
    assert.equal((await start(['--port', String(port)])).mode, 'tcp');
    // Nothing needs to listen there: only the start line is read.
    assert.deepEqual(await start(['--port', '6443']).then((s) => [s.mode, s.expect]), ['https /readyz', [200, 401, 403]]);
    assert.equal((await start(['--port', '50000'])).mode, 'tls');
    const tls = await start(['--port', String(port), '--check', 'tls']);
    assert.equal(tls.mode, 'tls');
    const https = await start(['--port', String(port), '--check', 'https', '--expect', '200,204']);
    assert.equal(https.mode, 'https /readyz');
    assert.deepEqual(https.expect, [200, 204]);
    const bad = await runCommand('watch', ['--endpoint', HOST, '--port', String(port), '--check', 'tcp', '--expect', '200']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--expect goes with an https check/);
  } finally {
    await server.stop();
  }
});

test('a live line on a terminal during a long drill (script: a pseudo-terminal), none off a terminal', async (t) => {
  if (!requireOrSkip(t, await has('script'), 'script (bsdutils) is not installed')) return;
  const port = await freePort();
  const server = flappingServer(() => createServer((s) => s.end('hello\n')), port);
  await server.start();
  try {
    const command = [process.execPath, '--import', TSX, CLI, 'watch', '--endpoint', HOST, '--port', String(port), '--rate', '20/s', '--duration', '3500ms'].map((w) => `'${w}'`).join(' ');
    const { stdout } = await promisify(execFile)('script', ['-q', '-e', '-c', `stty cols 100; ${command}`, '/dev/null'], { cwd: ROOT, timeout: 60_000 });
    // Rewritten in place: a carriage return, erase-line, the line, no newline.
    const live = [...stdout.matchAll(/\r\x1b\[2K(\d\d:\d\d:\d\d\.\d{3} {2}up · (\d+) attempts, 0 failed)/g)];
    assert.ok(live.length >= 2, JSON.stringify(stdout));
    assert.ok(Number(live.at(-1)![2]) > Number(live[0][2]), 'the counts move');
    assert.match(stdout, /\r\x1b\[2K\r?\n?summary: \d+ attempts/, 'cleared before the summary');
    // Off a terminal: the same watch prints no live line.
    const plain = await runCommand('watch', ['--endpoint', HOST, '--port', String(port), '--rate', '20/s', '--duration', '1500ms']);
    assert.doesNotMatch(plain.stdout, /\r|\x1b/);
  } finally {
    await server.stop();
  }
});

async function has(command: string): Promise<boolean> {
  try { await promisify(execFile)('sh', ['-c', `command -v ${command}`]); return true; } catch { return false; }
}
