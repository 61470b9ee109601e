// A stand-in control-plane node as its own process, so tests can kill it (SIGKILL), stop it (SIGTERM:
// graceful) or freeze it (SIGSTOP: the kernel still accepts connections, nothing answers).
//
//   node --import tsx test/helpers/node-program.ts '{"name":"cp-01","host":"127.0.0.41","port":7443}'
//
// What a connection gets depends on its first bytes (the client speaks first, as in TLS):
//   WATCH\n             "<name> tick <n>\n" every `tickMs` (default 100) until either side closes
//   DOWNLOAD <n> <s>\n  "<name>\n", then n bytes of payload(s) (payload.ts), then FIN
//   UPLOAD <n>\n        "<name>\n" at once, then reads n bytes and answers "<sha256>\n", then FIN
//   anything else       echo: "<name>:<chunk>" for every chunk
// With "greetMs", every connection is first sent "<name> hello\n" after that delay (a server that speaks first).
// With "https", it also answers HTTPS on that port (any path: 200 "<name> ok"), like kube-apiserver's /readyz.
// Prints "listening <port>" (and "https <port>") once bound. SIGTERM: stop accepting, FIN every connection, exit.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Socket } from 'node:net';
import { payload } from './payload.js';

interface Options { name: string; host: string; port: number; tickMs?: number; greetMs?: number; https?: { port: number; certFile: string; keyFile: string } }

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const sockets = new Set<Socket>();

const server = createServer({ allowHalfOpen: true }, (socket) => {
  sockets.add(socket);
  const timers: NodeJS.Timeout[] = [];
  socket.on('close', () => { sockets.delete(socket); for (const t of timers) clearTimeout(t); });
  socket.on('error', () => undefined);
  if (options.greetMs !== undefined) timers.push(setTimeout(() => socket.write(`${options.name} hello\n`), options.greetMs));
  let mode: 'unknown' | 'echo' | 'upload' | 'done' = 'unknown';
  let head = '';
  let expected = 0;
  let received = 0;
  const hash = createHash('sha256');
  const upload = (chunk: Buffer) => {
    received += chunk.length;
    hash.update(chunk);
    if (received >= expected) { mode = 'done'; socket.end(`${hash.digest('hex')}\n`); }
  };
  socket.on('data', (chunk: Buffer) => {
    if (mode === 'echo') { socket.write(`${options.name}:${chunk.toString('latin1')}`); return; }
    if (mode === 'upload') { upload(chunk); return; }
    if (mode === 'done') return;
    head += chunk.toString('latin1');
    const keyword = /^(WATCH|DOWNLOAD|UPLOAD)/.exec(head)?.[1];
    if (!keyword && !/^(W|WA|WAT|WATC|D|DO|DOW|DOWN|DOWNL|DOWNLO|DOWNLOA|U|UP|UPL|UPLO|UPLOA)$/.test(head)) {
      mode = 'echo';
      socket.write(`${options.name}:${head}`);
      return;
    }
    const newline = head.indexOf('\n');
    if (!keyword || newline === -1) return;
    const [command, ...args] = head.slice(0, newline).split(' ');
    const rest = Buffer.from(head.slice(newline + 1), 'latin1');
    if (command === 'WATCH') {
      mode = 'done';
      let n = 0;
      const tick = () => { socket.write(`${options.name} tick ${n++}\n`); timers[0] = setTimeout(tick, options.tickMs ?? 100); };
      tick();
    } else if (command === 'DOWNLOAD') {
      mode = 'done';
      void send(socket, Number(args[1]), Number(args[0]));
    } else {
      mode = 'upload';
      socket.write(`${options.name}\n`);
      expected = Number(args[0]);
      if (rest.length > 0 || expected === 0) upload(rest);
    }
  });
  socket.on('end', () => { if (mode !== 'upload') socket.end(); });
});

async function send(socket: Socket, seed: number, bytes: number): Promise<void> {
  socket.write(`${options.name}\n`);
  for (const block of payload(seed, bytes)) {
    if (socket.destroyed) return;
    if (!socket.write(block)) await new Promise((resolve) => { socket.once('drain', resolve); socket.once('close', resolve); });
  }
  socket.end();
}

const https = options.https && createHttpsServer({ cert: readFileSync(options.https.certFile), key: readFileSync(options.https.keyFile), keepAliveTimeout: 30_000 }, (_request, response) => {
  response.writeHead(200, { 'content-type': 'text/plain', 'x-node': options.name });
  response.end(`${options.name} ok\n`);
});
https?.on('connection', (socket: Socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)); });

server.listen(options.port, options.host, () => {
  const announce = () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
  if (!https) return announce();
  https.listen(options.https!.port, options.host, () => {
    process.stdout.write(`https ${(https.address() as { port: number }).port}\n`);
    announce();
  });
});
process.on('SIGTERM', () => {
  https?.close();
  server.close();
  for (const socket of sockets) socket.end();
  setTimeout(() => process.exit(0), 200).unref();
  server.once('close', () => process.exit(0));
});
