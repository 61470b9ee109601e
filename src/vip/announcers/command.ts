// How announcers run iproute2 and arping; injectable so tests can record the commands.
import { execFile } from 'node:child_process';

export interface CommandResult { code: number; stdout: string; stderr: string; missing?: boolean }
export type CommandRunner = (file: string, args: string[]) => Promise<CommandResult>;

export const runCommand: CommandRunner = (file, args) => new Promise((resolve) => {
  execFile(file, args, { timeout: 5000 }, (error, stdout, stderr) => {
    const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
    resolve({ code, stdout: String(stdout), stderr: String(stderr), missing: error?.code === 'ENOENT' });
  });
});

