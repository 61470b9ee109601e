import type { Writable } from 'node:stream';

export interface Io {
  stdout: Writable;
  stderr: Writable;
}

/** A command: parses its own arguments and returns an exit code. Errors become one line (cli/main.ts). */
export type Command = (argv: string[], io: Io) => Promise<number>;
