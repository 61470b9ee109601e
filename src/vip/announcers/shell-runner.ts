// Runs commands through one long-lived `sh` instead of a fresh child process per command. Forking a large Node
// process costs milliseconds, and tens to hundreds of them on a busy host; the VIP's takeover path (ip addr add,
// then arping) should not pay that. The shell is started once, ahead of any failover, and forks only `ip`/`arping`.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { runCommand, type CommandResult, type CommandRunner } from './command.js';

const MARKER = '@@cluster-endpoint-done ';
const COMMAND_TIMEOUT_MS = 5000;
const SCRIPT = `while IFS= read -r line; do eval "$line"; echo "${MARKER}$?"; done`;

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

interface Shell {
  process: ChildProcessWithoutNullStreams;
  pending: { resolve: (r: CommandResult) => void; output: string[] }[];
}

export class ShellRunner {
  #shell?: Shell;

  /** A CommandRunner through the shell. */
  readonly run: CommandRunner = (file, args) => this.#run(file, args, false);
  /** Starts the command and does not wait for it (the result is code 0). */
  readonly runInBackground: CommandRunner = (file, args) => this.#run(file, args, true);

  #run(file: string, args: string[], background: boolean): Promise<CommandResult> {
    const shell = this.#ensure();
    if (!shell) {
      if (!background) return runCommand(file, args);
      void runCommand(file, args);
      return Promise.resolve({ code: 0, stdout: '', stderr: '' });
    }
    const command = [file, ...args].map(shellQuote).join(' ');
    // stdin from /dev/null: a command reading stdin would swallow the lines that follow it.
    const line = background ? `(${command}) </dev/null >/dev/null 2>&1 &` : `${command} </dev/null 2>&1`;
    return new Promise((resolve) => {
      // A shell that stops answering is replaced; the command runs once more on its own (operations are idempotent).
      const watchdog = setTimeout(() => {
        this.#discard(shell);
        void runCommand(file, args).then(resolve);
      }, COMMAND_TIMEOUT_MS);
      shell.pending.push({ resolve: (result) => { clearTimeout(watchdog); resolve(result); }, output: [] });
      shell.process.stdin.write(`${line}\n`);
    });
  }

  #ensure(): Shell | undefined {
    if (this.#shell) return this.#shell;
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn('sh', ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch {
      return undefined;
    }
    const shell: Shell = { process: child, pending: [] };
    const gone = () => {
      if (this.#shell === shell) this.#shell = undefined;
      for (const waiter of shell.pending.splice(0)) waiter.resolve({ code: 1, stdout: '', stderr: 'helper shell exited' });
    };
    child.on('error', gone);
    child.on('exit', gone);
    child.stdin.on('error', () => undefined);
    child.stderr.resume();
    createInterface({ input: child.stdout }).on('line', (text) => {
      const head = shell.pending[0];
      if (!head) return;
      // Output without a final newline ends up on the marker's line.
      const at = text.lastIndexOf(MARKER);
      if (at < 0) { head.output.push(text); return; }
      if (at > 0) head.output.push(text.slice(0, at));
      shell.pending.shift();
      const code = Number(text.slice(at + MARKER.length));
      const output = head.output.join('\n');
      // sh reports a command it cannot find as 127.
      head.resolve({ code, stdout: output, stderr: output, missing: code === 127 });
    });
    this.#shell = shell;
    return shell;
  }

  #discard(shell: Shell): void {
    if (this.#shell === shell) this.#shell = undefined;
    shell.pending.splice(0);
    shell.process.kill('SIGKILL');
  }

  close(): void {
    const shell = this.#shell;
    this.#shell = undefined;
    shell?.process.stdin.end();
  }
}
