import { EXIT } from '../../errors.js';
import { fetchStatus, resolveAdminTarget, type AdminClientOptions } from '../../runtime/admin/client.js';
import { formatStatusText } from '../../runtime/admin/status-table.js';
import type { Io } from '../command.js';

export interface StatusOptions extends AdminClientOptions { json?: boolean }

export async function status(options: StatusOptions, io: Io): Promise<number> {
  const snapshot = await fetchStatus(await resolveAdminTarget(options));
  io.stdout.write(options.json ? `${JSON.stringify(snapshot, null, 2)}\n` : formatStatusText(snapshot));
  return EXIT.ok;
}
