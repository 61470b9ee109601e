import type { ErrorCode } from '../errors.js';

/** One thing wrong with a spec (or, for doctor, a foreign file): where, what, and how to fix it. */
export interface Problem {
  code: ErrorCode;
  severity: 'error' | 'warning';
  /** Dotted path into the spec, e.g. `controlPlane[2].address`; empty for the whole document. */
  path: string;
  message: string;
  hint?: string;
  line?: number;
  column?: number;
}

/** Formats a path array the way users write it: `listeners[1].healthCheck.timeout`. */
export function formatPath(parts: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

/** `file:line:col path: message (hint)` */
export function formatProblem(problem: Problem, file?: string): string {
  const where = [file, problem.line, problem.column].filter((x) => x !== undefined).join(':');
  const path = problem.path ? `${problem.path}: ` : '';
  const hint = problem.hint ? `\n    fix: ${problem.hint}` : '';
  return `${where ? `${where}: ` : ''}${problem.severity}: ${path}${problem.message}${hint}`;
}
