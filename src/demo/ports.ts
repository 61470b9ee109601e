// Where the demo can listen without root: whether loopback aliases exist (all of 127/8 is local on Linux,
// only 127.0.0.1 on macOS), and the preferred ports when free, else free ones.
import { createServer } from 'node:net';

/** Resolves the port a listen on host:port got (port 0 = any free one), or undefined when it cannot bind. */
export function tryBind(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ host, port, exclusive: true }, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/** True when every address can be bound (false on systems where only 127.0.0.1 is configured). */
export async function canBindAll(addresses: readonly string[]): Promise<boolean> {
  for (const address of addresses) if ((await tryBind(address, 0)) === undefined) return false;
  return true;
}

/**
 * A port free on every host: `preferred` when it is, else one the kernel hands out on the first host that
 * is also free on the others. `avoid` lists ports already promised to other listeners of the demo.
 */
export async function pickPort(hosts: readonly string[], preferred: number | undefined, avoid: ReadonlySet<number> = new Set()): Promise<number> {
  if (preferred !== undefined && !avoid.has(preferred) && (await freeOnAll(hosts, preferred))) return preferred;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryBind(hosts[0], 0);
    if (port !== undefined && !avoid.has(port) && (await freeOnAll(hosts, port))) return port;
  }
  throw new Error(`no free port on ${hosts.join(', ')}`);
}

async function freeOnAll(hosts: readonly string[], port: number): Promise<boolean> {
  for (const host of hosts) if ((await tryBind(host, port)) === undefined) return false;
  return true;
}
