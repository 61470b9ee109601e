// A plain Node TCP proxy (net + pipe, one process, roundrobin, no checks): the stand-in the issue measured
// against HAProxy, kept so `--ours stand-in` can compare the harness's floor with the real balancer.
// Run by bench/run.ts: `node stand-in-proxy.js '<json [{bind,port,servers:[{address,port}]}]>'`.
import { connect, createServer, type Server } from 'node:net';

interface Frontend {
  bind: string;
  port: number;
  servers: { address: string; port: number }[];
}

const frontends = JSON.parse(process.argv[2] ?? '[]') as Frontend[];
const servers: Server[] = [];

for (const frontend of frontends) {
  let next = 0;
  const server = createServer({ allowHalfOpen: true }, (downstream) => {
    const target = frontend.servers[next++ % frontend.servers.length];
    const upstream = connect({ host: target.address, port: target.port, allowHalfOpen: true });
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    const destroyBoth = () => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
  });
  server.listen({ host: frontend.bind, port: frontend.port, backlog: 4096 });
  servers.push(server);
}

process.on('SIGTERM', () => {
  for (const server of servers) server.close();
  process.exit(0);
});
