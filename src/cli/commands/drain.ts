import { parseArgs } from 'node:util';
import { EXIT, UserError } from '../../errors.js';
import type { AdminState } from '../../health/types.js';
import { ADMIN_CLIENT_HELP, ADMIN_CLIENT_OPTIONS, fetchStatus, putAdminState, resolveAdminTarget } from '../../runtime/admin/client.js';
import { formatTime } from '../../runtime/admin/format.js';
import type { Command, Io } from '../command.js';

const HELP = `usage: cluster-endpoint drain NODE [--maint] [--listener NAME] [-c FILE | --admin URL] [--token TOKEN] [--json]

Stops sending new connections to NODE on every listener of a running balancer (admin state drain).
Its open connections get the spec's deregistrationDelay to finish, then they are closed. With
--maint the node gets no traffic at all, not even when every other server is down (fail-open),
until \`cluster-endpoint undrain NODE\`.

  --maint            set admin state maint instead of drain
  --listener NAME    only this listener's server, not the node on every listener
${ADMIN_CLIENT_HELP}
  --json             print the API answer as JSON`;

export const command: Command = async (argv, io) => runAdminStateCommand(argv, io, { name: 'drain', help: HELP, state: 'drain', maintState: 'maint' });

/** drain and undrain: one request to the admin API, then a line per changed server. */
export async function runAdminStateCommand(argv: string[], io: Io, command: { name: string; help: string; state: AdminState; maintState?: AdminState }): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...ADMIN_CLIENT_OPTIONS, maint: { type: 'boolean' }, listener: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) { io.stdout.write(`${command.help}\n`); return EXIT.ok; }
  if (positionals.length !== 1) {
    throw new UserError('USAGE', positionals.length === 0 ? `${command.name} needs the node name` : `${command.name} takes one node, got ${positionals.length}: ${positionals.join(' ')}`, {
      hint: `cluster-endpoint ${command.name} NODE (see \`cluster-endpoint status\` for the names)`,
      exitCode: EXIT.invalid,
    });
  }
  if (values.maint && !command.maintState) throw new UserError('USAGE', `${command.name} has no --maint`, { hint: `cluster-endpoint ${command.name} NODE`, exitCode: EXIT.invalid });
  const node = positionals[0];
  const state = values.maint && command.maintState ? command.maintState : command.state;
  const target = await resolveAdminTarget(values);
  const result = await putAdminState(target, node, state, values.listener);
  if (values.json) {
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
