// Several kernel-mode serves on one host, one per cluster: each owns the table named after its cluster
// (tableName) and holds a host lock on it while it runs, so a second serve of the same cluster is refused and a
// table whose serve is gone (a crash, an upgrade) is known as such. At start and at every reload a serve looks at
// the other tables of ours: one that catches the same address and port is refused while its serve runs, and
// taken over when none does (a predecessor: the table of an earlier version, or of this cluster before a rename);
// the server ids of the others are avoided, so no flow mark names two endpoints' servers.
import { UserError } from '../../errors.js';
import { describeOwner, lockAddress, lockOwner, takeHostLock, type HostLock, type LockOwner } from '../../host-lock.js';
import { joinHostPort } from '../../spec/address.js';
import type { Spec } from '../../spec/types.js';
import type { KernelEngine, TableState } from './engines.js';
import { clashOf, FAMILY, listensOf, tableName, type Listen } from './ruleset.js';

/** The host lock of a table: held by the serve that owns it, for as long as it runs. */
export function tableLock(table: string): string {
  return lockAddress('kernel', table);
}

/** Takes a cluster's table for this process, or says which serve has it (UserError KERNEL, exit 2). */
export async function lockTable(cluster: string, specPath: string): Promise<HostLock> {
  const table = tableName(cluster);
  const taken = await takeHostLock(tableLock(table), specPath);
  if ('lock' in taken) return taken.lock;
  throw new UserError('KERNEL', `the nftables table ${FAMILY} ${table} is in use by ${describeOwner(taken.owner)}: cluster ${cluster} is already served in kernel mode on this host`, {
    hint: `stop that serve first (systemctl restart does), or, for another cluster, give this spec its own cluster.name: each kernel-mode serve on a host has its own table, named after cluster.name (docs/kernel.md, "Several clusters on one host")`,
    exitCode: 2,
  });
}

/** What the other tables of ours on the host mean for one endpoint's table. */
export interface Neighbours {
  /** Server ids of the tables left alone: this table's must differ. */
  taken: Set<string>;
  /** Tables no serve runs that catch what this one catches: taken over, deleted by its next transaction. */
  replaced: Array<{ table: string; state: TableState }>;
}

/** The addresses and ports the spec's table catches. */
export function listensOfSpec(spec: Spec): Listen[] {
  return listensOf(spec.balancer.bind, spec.listeners.map((l) => l.port));
}

/**
 * Reads the other tables of ours on the host (all but `own`). One that catches an address and port this spec's table catches is
 * refused while a serve runs it (UserError KERNEL, exit 2), and replaced otherwise.
 */
export async function neighboursOf(engine: KernelEngine, own: string, spec: Spec): Promise<Neighbours> {
  const listens = listensOfSpec(spec);
  const neighbours: Neighbours = { taken: new Set(), replaced: [] };
  for (const table of await engine.listTables()) {
    if (table === own) continue;
    const state = await engine.readTable(table);
    if (!state) continue;
    const clash = clashOf(listens, state.listens);
    if (!clash) {
      for (const id of serverIdsIn(state)) neighbours.taken.add(id);
      continue;
    }
    const owner = await lockOwner(tableLock(table));
    if (owner) {
      const listener = spec.listeners.find((l) => l.port === clash.port)!;
      const where = clash.address ? joinHostPort(clash.address, clash.port) : `port ${clash.port} on every local IPv${clash.family} address`;
      throw new UserError('KERNEL', `listener ${listener.name} (${where}) is already served on this host by ${describeOwner(owner)}, through the nftables table ${FAMILY} ${table}`, {
        hint: 'each kernel-mode serve on a host needs its own listener ports, or its own balancer.bind address (docs/kernel.md, "Several clusters on one host")',
        exitCode: 2,
      });
    }
    neighbours.replaced.push({ table, state });
  }
  return neighbours;
}

/** The server ids a table carries (its s_XXXXXX chains): the marks of its flows are markOf(id). */
export function serverIdsIn(state: TableState): string[] {
  return state.chains.filter((c) => /^s_[0-9a-f]{6}$/.test(c)).map((c) => c.slice(2));
}

/** The tables of ours on this host, each with the serve that runs it (none: a table left behind). */
export async function tablesOnHost(engine: KernelEngine): Promise<Array<{ table: string; owner?: Partial<LockOwner> }>> {
  return Promise.all((await engine.listTables()).map(async (table) => {
    const owner = await lockOwner(tableLock(table));
    return owner ? { table, owner } : { table };
  }));
}
