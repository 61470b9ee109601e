// One serve owns a BGP run directory at a time. The lock is a listening UNIX socket in Linux's abstract namespace,
// named after the directory: binding it is atomic (a second serve gets EADDRINUSE), and the kernel releases it
// when the owner exits however it exits (SIGKILL included), so there is no stale lock to clean up and no race
// between two serves starting at once. The owner answers a connection with who it is, so the refusal can say.
// Abstract sockets belong to a network namespace: a BIRD of an owner in another namespace is found by the
// supervisor through the pidfile instead (see BirdSupervisor).
import { createHash } from 'node:crypto';
import { connect, createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { UserError } from '../errors.js';

export interface LockOwner {
  pid: number;
  /** The spec file the owner serves. */
  spec: string;
  /** Epoch ms the owner took the lock. */
  since: number;
}

export interface RunDirectoryLock {
  release(): Promise<void>;
}

/** The abstract socket name for a directory (108 bytes at most: a digest, not the path). */
export function lockName(directory: string): string {
  return `\0cluster-endpoint/bgp/${createHash('sha256').update(resolve(directory)).digest('hex').slice(0, 32)}`;
}

/** Takes the directory or says who has it (UserError BGP, exit 2). */
export async function lockRunDirectory(directory: string, spec: string): Promise<RunDirectoryLock> {
  const me: LockOwner = { pid: process.pid, spec, since: Date.now() };
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(`${JSON.stringify(me)}\n`);
  });
  server.unref();
  try {
    await listen(server, lockName(directory));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    const owner = await askOwner(lockName(directory));
    throw inUse(directory, owner);
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}

/** The refusal when another live serve owns the directory. */
export function inUse(directory: string, owner: Partial<LockOwner> | undefined): UserError {
  const who = owner?.pid ? `serve pid ${owner.pid}${owner.spec ? ` (${owner.spec})` : ''}` : 'another serve';
  return new UserError('BGP', `bgp.runDirectory ${directory} is in use by ${who}, which runs its own BGP speaker there`, {
    hint: 'each serve on a host needs its own bgp.runDirectory (e.g. /run/cluster-endpoint/bgp-<cluster>), and its BGP sessions their own sourceAddress (docs/bgp.md, "Several clusters on one host"); or stop the other serve first',
    exitCode: 2,
  });
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

/** What the owner says about itself; undefined when it does not answer in time (it is still alive: the bind failed). */
function askOwner(path: string): Promise<Partial<LockOwner> | undefined> {
  return new Promise((done) => {
    const socket = connect(path);
    let text = '';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      try { done(JSON.parse(text) as Partial<LockOwner>); } catch { done(undefined); }
    };
    const timer = setTimeout(finish, 1000);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => { text += chunk; });
    socket.on('end', finish);
    socket.on('error', finish);
  });
}
