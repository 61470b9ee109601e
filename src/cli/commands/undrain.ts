import { ADMIN_CLIENT_HELP } from '../../runtime/admin/client.js';
import type { Command } from '../command.js';
import { runAdminStateCommand } from './drain.js';

const HELP = `usage: cluster-endpoint undrain NODE [--listener NAME] [-c FILE | --admin URL] [--token TOKEN] [--json]

Returns NODE to service on every listener of a running balancer (admin state ready), after drain or
drain --maint. It takes new connections again as soon as its health checks say it is up.

  --listener NAME    only this listener's server, not the node on every listener
${ADMIN_CLIENT_HELP}
  --json             print the API answer as JSON`;

export const command: Command = async (argv, io) => runAdminStateCommand(argv, io, { name: 'undrain', help: HELP, state: 'ready' });
