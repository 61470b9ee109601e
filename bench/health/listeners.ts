// The 1,000 "servers" of the health-check bench: one process listening on N loopback addresses
// (127.10.<i / 250>.<i % 250 + 1>) on one port. It accepts and closes, which is all a tcp check needs; with
// --greet it first sends one byte, so that a client through the balancer can time its first byte.
//   node --import tsx bench/health/listeners.ts N [PORT] [--greet]
// prints "listening <port>" once every address is bound.
import { createServer, type Server } from 'node:net';

export function serverAddress(index: number): string {
  return `127.10.${Math.floor(index / 250)}.${(index % 250) + 1}`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== '--greet');
  const greet = process.argv.includes('--greet');
  const count = Number(args[0] ?? 1000);
  let port = Number(args[1] ?? 0);
  const servers: Server[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      if (greet) socket.end('>'); else socket.destroy();
    });
    server.on('error', (error) => { process.stderr.write(`${serverAddress(i)}: ${error.message}\n`); process.exit(1); });
    await new Promise<void>((resolve) => server.listen({ host: serverAddress(i), port, backlog: 64 }, resolve));
    port = (server.address() as { port: number }).port;
    servers.push(server);
  }
  process.stdout.write(`listening ${port}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) void main();
