import { UserError } from '../../errors.js';
import type { Command } from '../command.js';

// Placeholder until this command lands; it is replaced, not extended.
export const command: Command = async () => {
  throw new UserError('USAGE', 'probe is not available in this build');
};
