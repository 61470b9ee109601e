import type { AdminClientOptions } from '../../runtime/admin/client.js';
import type { Io } from '../command.js';
import { setAdminState } from './drain.js';

export interface UndrainOptions extends AdminClientOptions { node: string; listener?: string; json?: boolean }

/** Returns a node to service (admin state ready) on every listener, or on one. */
export async function undrain(options: UndrainOptions, io: Io): Promise<number> {
  return setAdminState(options, 'ready', io);
}
