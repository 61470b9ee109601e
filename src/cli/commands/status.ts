import { parseArgs } from 'node:util';
import { EXIT } from '../../errors.js';
import { ADMIN_CLIENT_HELP, ADMIN_CLIENT_OPTIONS, fetchStatus, resolveAdminTarget } from '../../runtime/admin/client.js';
import { formatStatusText } from '../../runtime/admin/status-table.js';
import type { Command } from '../command.js';

const HELP = `usage: cluster-endpoint status [-c FILE | --admin URL] [--token TOKEN] [--json]

Prints the state of a running balancer: every listener and server with its health state, admin
state, connections and last check; the last reload and the VIP role.

${ADMIN_CLIENT_HELP}
  --json             print the whole snapshot (GET /api/status) as JSON`;

export const command: Command = async (argv, io) => {
  const { values } = parseArgs({ args: argv, options: { ...ADMIN_CLIENT_OPTIONS, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) { io.stdout.write(`${HELP}\n`); return EXIT.ok; }
  const snapshot = await fetchStatus(await resolveAdminTarget(values));
  io.stdout.write(values.json ? `${JSON.stringify(snapshot, null, 2)}\n` : formatStatusText(snapshot));
  return EXIT.ok;
};
