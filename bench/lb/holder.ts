// A backend that accepts connections and holds them: answers the first byte with one byte (so the client
// knows the whole path is up) and then stays silent. Run by bench/run.ts: `node holder.js HOST PORT`.
import { createServer, type Socket } from 'node:net';

const [host, port] = process.argv.slice(2);
const sockets = new Set<Socket>();

const server = createServer((socket) => {
  sockets.add(socket);
  socket.once('data', () => socket.write('y'));
  socket.on('error', () => socket.destroy());
  socket.on('close', () => sockets.delete(socket));
});
server.listen({ host, port: Number(port), backlog: 4096 }, () => process.stdout.write(`holder listening on ${host}:${port}\n`));

process.on('SIGTERM', () => {
  server.close();
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});
