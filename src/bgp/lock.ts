// One serve owns a BGP run directory at a time (src/host-lock.ts: an abstract socket named after the directory).
// Abstract sockets belong to a network namespace: a BIRD of an owner in another namespace is found by the
// supervisor through the pidfile instead (see BirdSupervisor).
import { resolve } from 'node:path';
import { UserError } from '../errors.js';
import { describeOwner, lockAddress, takeHostLock, type HostLock, type LockOwner } from '../host-lock.js';

export type { LockOwner };
export type RunDirectoryLock = HostLock;

/** The abstract socket name for a directory (108 bytes at most: a digest, not the path). */
export function lockName(directory: string): string {
  return lockAddress('bgp', resolve(directory));
}

/** Takes the directory or says who has it (UserError BGP, exit 2). */
export async function lockRunDirectory(directory: string, spec: string): Promise<RunDirectoryLock> {
  const taken = await takeHostLock(lockName(directory), spec);
  if ('owner' in taken) throw inUse(directory, taken.owner);
  return taken.lock;
}

/** The refusal when another live serve owns the directory. */
export function inUse(directory: string, owner: Partial<LockOwner> | undefined): UserError {
  return new UserError('BGP', `bgp.runDirectory ${directory} is in use by ${describeOwner(owner)}, which runs its own BGP speaker there`, {
    hint: 'each serve on a host needs its own bgp.runDirectory (e.g. /run/cluster-endpoint/bgp-<cluster>), and its BGP sessions their own sourceAddress (docs/bgp.md, "Several clusters on one host"); or stop the other serve first',
    exitCode: 2,
  });
}
