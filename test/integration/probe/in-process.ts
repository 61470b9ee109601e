// Runs a CLI command in this process (the CLI's child-process start costs seconds on a loaded machine);
// errors become the exit code and the one line main.ts would print.
import { Writable } from 'node:stream';
import { runProgram } from '../../../src/cli/program.js';
import { UserError } from '../../../src/errors.js';

export interface CommandResult { code: number; stdout: string; stderr: string }

/** Runs `cluster-endpoint <command> <args>` through the CLI's one declaration (program.ts). */
export async function runCommand(command: string, args: string[]): Promise<CommandResult> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => new Writable({ write(chunk: Buffer | string, _encoding, callback) { append(String(chunk)); callback(); } });
  const io = { stdout: sink((s) => { stdout += s; }), stderr: sink((s) => { stderr += s; }) };
  try {
    const code = await runProgram([command, ...args], io);
    return { code, stdout, stderr };
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    return { code: error.exitCode, stdout, stderr: `${stderr}error: ${error.message}${error.hint ? `\n  fix: ${error.hint}` : ''}\n` };
  }
}
