import type { Writable } from 'node:stream';
import { EXIT, UserError } from '../errors.js';

export interface Io {
  stdout: Writable;
  stderr: Writable;
}

/** A usage error: exit code 2 and a hint, printed by cli/main.ts. */
export function usage(message: string, hint: string): UserError {
  return new UserError('USAGE', message, { hint, exitCode: EXIT.invalid });
}
