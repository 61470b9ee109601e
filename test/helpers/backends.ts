import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** A TCP backend on loopback that answers every chunk with "<name>:<chunk>" (optionally greets first). */
export interface Backend {
  name: string;
  host: string;
  port: number;
  sockets: Set<Socket>;
  accepted: number;
  /** Stops listening and resets every connection, like a killed process. */
  kill(): Promise<void>;
  /** Stops accepting but keeps established connections (only health checks and new connects fail). */
  stopListening(): void;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startBackend(name: string, options: { host?: string; port?: number; greet?: boolean } = {}): Promise<Backend> {
  const host = options.host ?? '127.0.0.1';
  const sockets = new Set<Socket>();
  let server: Server;
  const backend: Backend = {
    name, host, port: options.port ?? 0, sockets, accepted: 0,
    async kill() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.resetAndDestroy();
      });
    },
    stopListening() {
      server.close();
    },
    async restart() {
      await listen();
    },
    async close() {
      await backend.kill().catch(() => undefined);
    },
  };
  const listen = () => new Promise<void>((resolve, reject) => {
    server = createServer({ allowHalfOpen: true }, (socket) => {
      backend.accepted++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      if (options.greet) socket.write(`${name}\n`);
      socket.on('data', (chunk) => socket.write(`${name}:${chunk.toString()}`));
      socket.on('end', () => socket.end());
    });
    server.once('error', reject);
    server.listen(backend.port, host, () => {
      backend.port = (server.address() as { port: number }).port;
      resolve();
    });
  });
  await listen();
  return backend;
}

export interface TempSpec {
  dir: string;
  path: string;
  write(spec: unknown): Promise<void>;
  cleanup(): Promise<void>;
}

/** A spec file in a fresh temp directory. */
export async function tempSpec(spec: unknown): Promise<TempSpec> {
  const dir = await mkdtemp(join(tmpdir(), 'cluster-endpoint-test-'));
  const path = join(dir, 'endpoint.yaml');
  const handle: TempSpec = {
    dir, path,
    write: (value) => writeFile(path, typeof value === 'string' ? value : stringify(value)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  await handle.write(spec);
  return handle;
}

/** A spec for tests: listeners on loopback in front of the given backends, with fast checks. */
export function specFor(options: {
  port: number; adminPort: number; backends: Array<{ name: string; host?: string; port: number }>;
  healthCheck?: Record<string, unknown>; balancer?: Record<string, unknown>; deregistrationDelay?: string; listener?: Record<string, unknown>;
}): Record<string, unknown> {
  // Every backend gets its own address on 127.0.0.0/8 only when it has one; all share targetPort, so
  // distinct ports need distinct listener target ports: tests use one listener per backend port set.
  const ports = new Set(options.backends.map((b) => b.port));
  if (ports.size !== 1) throw new Error('specFor: backends must share one port (use distinct 127.0.0.x addresses)');
  return {
    cluster: { name: 'test' },
    endpoint: '127.0.0.1',
    controlPlane: options.backends.map((b) => ({ name: b.name, address: b.host ?? '127.0.0.1' })),
    listeners: [{ name: 'kubernetes', port: options.port, targetPort: [...ports][0], targets: 'controlPlane', ...options.listener }],
    healthCheck: { interval: '200ms', fastInterval: '100ms', timeout: '100ms', healthyThreshold: 2, unhealthyThreshold: 2, ...options.healthCheck },
    deregistrationDelay: options.deregistrationDelay ?? '1s',
    balancer: { bind: '127.0.0.1', admin: `127.0.0.1:${options.adminPort}`, watch: false, ...options.balancer },
  };
}

let nextOctet = 40 + Math.floor(Math.random() * 150);

/** Backends on distinct loopback addresses (127.0.0.x) sharing one port, like nodes sharing 6443. */
export async function startBackends(names: string[], options: { greet?: boolean } = {}): Promise<Backend[]> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = nextOctet;
    nextOctet = nextOctet >= 230 ? 40 : nextOctet + names.length;
    const started: Backend[] = [];
    try {
      for (const [index, name] of names.entries()) {
        started.push(await startBackend(name, { host: `127.0.0.${base + index}`, port: started[0]?.port ?? 0, greet: options.greet }));
      }
      return started;
    } catch {
      await Promise.all(started.map((b) => b.close()));
    }
  }
  throw new Error('could not bind test backends');
}

/** Sends payload through host:port and resolves with the first reply (rejects on error or a close without reply). */
export function exchange(port: number, payload = 'ping', options: { host?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: options.host ?? '127.0.0.1', port });
    let reply = '';
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('timeout')); }, options.timeoutMs ?? 5000);
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes(payload) || reply.endsWith('\n')) {
        clearTimeout(timer);
        socket.end();
        resolve(reply);
      }
    });
    socket.on('error', (error) => { clearTimeout(timer); reject(error); });
    socket.on('close', () => { clearTimeout(timer); if (!reply) reject(new Error('closed without reply')); });
  });
}
