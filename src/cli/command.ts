import type { Writable } from 'node:stream';
import { EXIT, UserError, type ErrorCode } from '../errors.js';
import { SpecInvalidError } from '../spec/load.js';
import { formatProblem, type Problem } from '../spec/problem.js';

export interface Io {
  stdout: Writable;
  stderr: Writable;
}

/** A usage error: exit code 2 and a hint, printed by cli/main.ts. */
export function usage(message: string, hint: string): UserError {
  return new UserError('USAGE', message, { hint, exitCode: EXIT.invalid });
}

/** A failure as `--json` prints it: the admin API's error body, plus the spec's problems when there are some. */
export interface ErrorJson {
  code: ErrorCode;
  message: string;
  hint?: string;
  file?: string;
  problems?: Problem[];
}

export function errorJson(error: unknown): ErrorJson {
  if (error instanceof SpecInvalidError) return { code: error.code, message: error.message, file: error.file, problems: error.problems };
  if (error instanceof UserError) return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error), hint: 'this is a bug: run again with CLUSTER_ENDPOINT_DEBUG=1 and report the stack trace' };
}

/** A failure as a person reads it on stderr: one line and its fix (a spec's problems one by one). */
export function formatError(error: unknown): string {
  if (error instanceof SpecInvalidError) return error.problems.map((p) => `${formatProblem(p, error.file)}\n`).join('');
  if (error instanceof UserError) return `error: ${error.message}${error.hint ? `\n  fix: ${error.hint}` : ''}\n`;
  const message = error instanceof Error ? error.message : String(error);
  return `error: ${message}\n${process.env.CLUSTER_ENDPOINT_DEBUG && error instanceof Error ? `${error.stack}\n` : ''}`;
}

/** The exit code of a failure: its own, 1 for anything unexpected. */
export function exitCodeOf(error: unknown): number {
  return error instanceof UserError ? error.exitCode : EXIT.failure;
}
