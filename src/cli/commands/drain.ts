import { EXIT } from '../../errors.js';
import type { AdminState } from '../../health/types.js';
import { fetchStatus, putAdminState, resolveAdminTarget, type AdminClientOptions } from '../../runtime/admin/client.js';
import { formatTime } from '../../runtime/admin/format.js';
import type { Io } from '../command.js';

export interface DrainOptions extends AdminClientOptions { node: string; maint?: boolean; listener?: string; json?: boolean }

/** Stops new connections to a node (drain), or all traffic (--maint), on every listener or on one. */
export async function drain(options: DrainOptions, io: Io): Promise<number> {
  return setAdminState(options, options.maint ? 'maint' : 'drain', io);
}

/** drain and undrain: one request to the admin API, then a line per changed server. */
export async function setAdminState(options: AdminClientOptions & { node: string; listener?: string; json?: boolean }, state: AdminState, io: Io): Promise<number> {
  const { node } = options;
  const target = await resolveAdminTarget(options);
  const result = await putAdminState(target, node, state, options.listener);
  if (options.json) {
    io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return EXIT.ok;
  }
  const where = result.servers.map((s) => `${s.listener} (${s.state}, ${s.activeConnections} open)`).join(', ');
  io.stdout.write(result.changed === 0
    ? `${node}: already ${state} on ${result.servers.length} server(s): ${where}\n`
    : `${node}: ${state} on ${result.servers.length} server(s)${result.changed < result.servers.length ? ` (${result.changed} changed)` : ''}: ${where}\n`);
  if (state !== 'ready') {
    const deadline = Math.max(0, ...result.servers.map((s) => s.drainDeadline ?? 0));
    const open = result.servers.reduce((sum, s) => sum + s.activeConnections, 0);
    const until = deadline > 0 ? `until ${formatTime(deadline)}` : 'the deregistration delay';
    io.stdout.write(`new connections go to the other servers; ${open} open connection(s) get ${until} to finish, then are closed. Undo with: cluster-endpoint undrain ${node}\n`);
    // Say so when this left a listener with nobody to send connections to.
    const status = await fetchStatus(target).catch(() => undefined);
    for (const listener of status?.listeners ?? []) {
      if (!listener.servers.some((s) => s.name === node)) continue;
      if (!listener.servers.some((s) => s.state === 'up' && s.adminState === 'ready')) {
        io.stderr.write(`warning: listener ${listener.name} has no server that is up and ready now\n`);
      }
    }
  }
  return EXIT.ok;
}
