// Opens COUNT connections to HOST:PORT (at most CONCURRENCY connecting at once), sends one byte on each and
// waits for one byte back, so every connection is proxied all the way to a backend. Prints one JSON line
// {"opened","failed","ms"} and then holds every connection until SIGTERM.
// Run by bench/run.ts: `node idle-client.js HOST PORT COUNT CONCURRENCY TIMEOUT_MS`.
import { connect, type Socket } from 'node:net';

const [host, portText, countText, concurrencyText, timeoutText] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const concurrency = Number(concurrencyText);
const sockets: Socket[] = [];
const startedAt = Date.now();
let launched = 0;
let opened = 0;
let failed = 0;
let reported = false;

function report(): void {
  if (reported) return;
  reported = true;
  clearTimeout(deadline);
  process.stdout.write(`${JSON.stringify({ opened, failed, ms: Date.now() - startedAt })}\n`);
}

const deadline = setTimeout(() => {
  failed += count - opened - failed;
  report();
}, Number(timeoutText));

function launchNext(): void {
  if (launched >= count || reported) return;
  launched++;
  const socket = connect({ host, port });
  sockets.push(socket);
  let settled = false;
  const settle = (ok: boolean) => {
    if (settled) return;
    settled = true;
    if (ok) opened++;
    else failed++;
    if (opened + failed === count) report();
    else launchNext();
  };
  socket.once('connect', () => socket.write('x'));
  socket.once('data', () => settle(true));
  socket.on('error', () => settle(false));
  socket.on('close', () => settle(false));
}

for (let i = 0; i < Math.min(concurrency, count); i++) launchNext();

process.on('SIGTERM', () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});
