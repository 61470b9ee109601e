// Programs that run inside lab hosts (plain `node -e`, so they start fast): an echo server that says who
// it is and whom it sees, a batch client that makes N connections, and a watch-like stream.
import type { Lab, Proc } from './lab.js';

/** Answers every chunk with "<NAME> <client address>: <chunk>". */
const ECHO = `
const net = require('node:net');
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.on('data', (d) => socket.write(process.env.NAME + ' ' + socket.remoteAddress.replace(/^::ffff:/, '') + ': ' + d));
  socket.on('end', () => socket.end());
});
server.listen(Number(process.env.PORT), process.env.HOST || '::', () => console.log('listening'));
`;

/** COUNT sequential connections to HOST:PORT, one line each: the reply, or "ERR <code>". */
const BATCH = `
const net = require('node:net');
const count = Number(process.env.COUNT);
const one = (i) => new Promise((resolve) => {
  const socket = net.connect({ host: process.env.HOST, port: Number(process.env.PORT) });
  const timer = setTimeout(() => { socket.destroy(); resolve('ERR timeout'); }, Number(process.env.TIMEOUT || 2000));
  socket.on('connect', () => socket.write('b' + i));
  socket.on('data', (d) => { clearTimeout(timer); socket.end(); resolve(String(d)); });
  socket.on('error', (e) => { clearTimeout(timer); resolve('ERR ' + (e.code || e.message)); });
});
(async () => { for (let i = 0; i < count; i++) console.log(await one(i)); })();
`;

/**
 * One long-lived connection (a watch): a message every INTERVAL ms, each echo checked. Prints a JSON line
 * per echo ({seq, reply}), and {error} once when the connection fails or closes; stops after DURATION ms.
 */
const STREAM = `
const net = require('node:net');
const socket = net.connect({ host: process.env.HOST, port: Number(process.env.PORT) });
let seq = 0, waiting = -1, done = false;
const finish = (error) => { if (done) return; done = true; console.log(JSON.stringify(error ? { error } : { end: true })); socket.destroy(); process.exit(0); };
socket.on('connect', () => {
  const tick = setInterval(() => { if (waiting !== -1) return; waiting = seq; socket.write('s' + seq + ';'); }, Number(process.env.INTERVAL || 100));
  setTimeout(() => { clearInterval(tick); finish(); }, Number(process.env.DURATION || 60000));
});
let buffer = '';
socket.on('data', (d) => {
  buffer += d;
  const tag = 's' + waiting + ';';
  if (waiting !== -1 && buffer.endsWith(tag)) { console.log(JSON.stringify({ seq: waiting, reply: buffer, at: Date.now() })); buffer = ''; seq++; waiting = -1; }
});
socket.on('error', (e) => finish(e.code || e.message));
socket.on('close', () => finish('closed'));
`;

export function startEcho(lab: Lab, host: string, name: string, port: number): Proc {
  return lab.spawn(host, [process.execPath, '-e', ECHO], { env: { NAME: name, PORT: String(port) } });
}

export async function batch(lab: Lab, from: string, host: string, port: number, count: number, timeoutMs = 2000): Promise<string[]> {
  const out = await lab.exec(from, ['env', `HOST=${host}`, `PORT=${port}`, `COUNT=${count}`, `TIMEOUT=${timeoutMs}`, process.execPath, '-e', BATCH], { timeoutMs: count * timeoutMs + 10_000 });
  return out.split('\n').filter(Boolean);
}

export interface Stream {
  proc: Proc;
  /** Echoes received so far. */
  echoes(): Array<{ seq: number; reply: string; at: number }>;
  /** The error that ended it, if any. */
  error(): string | undefined;
  /** The server that answers (the first word of the replies). */
  server(): string | undefined;
}

export function startStream(lab: Lab, from: string, host: string, port: number, options: { intervalMs?: number; durationMs?: number } = {}): Stream {
  const proc = lab.spawn(from, [process.execPath, '-e', STREAM], { env: { HOST: host, PORT: String(port), INTERVAL: String(options.intervalMs ?? 100), DURATION: String(options.durationMs ?? 60_000) } });
  const parsed = () => proc.lines.map((l) => l.json).filter((j): j is Record<string, unknown> => j !== undefined);
  return {
    proc,
    echoes: () => parsed().filter((j) => typeof j.seq === 'number') as Array<{ seq: number; reply: string; at: number }>,
    error: () => parsed().find((j) => typeof j.error === 'string')?.error as string | undefined,
    server: () => (parsed().find((j) => typeof j.reply === 'string')?.reply as string | undefined)?.split(' ')[0],
  };
}

/** GET a JSON path of a serve admin surface inside a lab host. */
export async function adminGet<T>(lab: Lab, host: string, url: string): Promise<T> {
  const text = await lab.exec(host, [process.execPath, '-e', `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t), (e) => { console.error(e.message); process.exit(1); })`]);
  return (new URL(url).pathname.startsWith('/api/') ? JSON.parse(text) : text) as T;
}
