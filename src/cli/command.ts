import type { Writable } from 'node:stream';

export interface Io {
  stdout: Writable;
  stderr: Writable;
}

/**
 * A command run from its arguments (`validate -c x.yaml` → ['-c', 'x.yaml']), parsed by the one declaration in
 * program.ts. Each command module exports one as `command` next to its typed function; usage errors are thrown as
 * UserError (cli/main.ts prints them).
 */
export type Command = (argv: string[], io: Io) => Promise<number>;
