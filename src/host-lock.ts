// Something on this host that one serve owns at a time (a BGP run directory, a kernel-mode table). The lock is a
// listening UNIX socket in Linux's abstract namespace: binding it is atomic (a second serve gets EADDRINUSE), and
// the kernel releases it when the owner exits however it exits (SIGKILL included), so there is no stale lock to
// clean up and no race between two serves starting at once. The owner answers a connection with who it is, so a
// refusal can say. Abstract sockets belong to a network namespace, as nftables tables and routes do.
import { createHash } from 'node:crypto';
import { connect, createServer, type Server } from 'node:net';

export interface LockOwner {
  pid: number;
  /** The spec file the owner serves. */
  spec: string;
  /** Epoch ms the owner took the lock. */
  since: number;
}

export interface HostLock {
  release(): Promise<void>;
}

/** The abstract socket name of a lock (108 bytes at most: a digest of the thing locked, under a kind). */
export function lockAddress(kind: string, thing: string): string {
  return `\0cluster-endpoint/${kind}/${createHash('sha256').update(thing).digest('hex').slice(0, 32)}`;
}

/** Takes the lock, or says who holds it: `{ owner }` (undefined fields when the owner does not answer in time). */
export async function takeHostLock(address: string, spec: string): Promise<{ lock: HostLock } | { owner: Partial<LockOwner> }> {
  const me: LockOwner = { pid: process.pid, spec, since: Date.now() };
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(`${JSON.stringify(me)}\n`);
  });
  server.unref();
  try {
    await listen(server, address);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    return { owner: (await lockOwner(address)) ?? {} };
  }
  let released = false;
  return {
    lock: {
      async release() {
        if (released) return;
        released = true;
        await new Promise<void>((done) => server.close(() => done()));
      },
    },
  };
}

/**
 * Who holds the lock: what the owner says about itself, `{}` when it does not answer in time (it is alive: it
 * holds the socket), undefined when nobody holds it.
 */
export function lockOwner(address: string): Promise<Partial<LockOwner> | undefined> {
  return new Promise((done) => {
    const socket = connect(address);
    let text = '';
    let connected = false;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      if (!connected) return done(undefined);
      try { done(JSON.parse(text) as Partial<LockOwner>); } catch { done({}); }
    };
    const timer = setTimeout(finish, 1000);
    socket.setEncoding('utf8');
    socket.on('connect', () => { connected = true; });
    socket.on('data', (chunk: string) => { text += chunk; });
    socket.on('end', finish);
    socket.on('error', finish);
  });
}

/** "serve pid 4242 (/etc/cluster-endpoint/alpha.yaml)", or "another serve" when it did not say. */
export function describeOwner(owner: Partial<LockOwner> | undefined): string {
  return owner?.pid ? `serve pid ${owner.pid}${owner.spec ? ` (${owner.spec})` : ''}` : 'another serve';
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(path, () => {
      server.off('error', fail);
      done();
    });
  });
}
