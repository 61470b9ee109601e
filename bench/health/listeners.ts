// The 1,000 "servers" of the health-check bench: one process listening on N loopback addresses
// (127.10.<i / 250>.<i % 250 + 1>) on one port. It accepts and closes, which is all a tcp check needs.
//   node --import tsx bench/health/listeners.ts N [PORT]
// prints "listening <port>" once every address is bound.
import { createServer, type Server } from 'node:net';

export function serverAddress(index: number): string {
  return `127.10.${Math.floor(index / 250)}.${(index % 250) + 1}`;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 1000);
  let port = Number(process.argv[3] ?? 0);
  const servers: Server[] = [];
  for (let i = 0; i < count; i++) {
    const server = createServer((socket) => socket.destroy());
    server.on('error', (error) => { process.stderr.write(`${serverAddress(i)}: ${error.message}\n`); process.exit(1); });
    await new Promise<void>((resolve) => server.listen({ host: serverAddress(i), port, backlog: 64 }, resolve));
    port = (server.address() as { port: number }).port;
    servers.push(server);
  }
  process.stdout.write(`listening ${port}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) void main();
