// The README read top to bottom in a fresh shell: its shell blocks, and a shell that runs them one command at a
// time in a throw-away copy of this machine (a private mount namespace with an overlay over / and a chroot into it:
// what the commands install or write lands in the overlay, never on the machine), in this machine's network
// namespace or in one that stands in for the reference guide's cluster.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab } from '../../helpers/lab.js';
import { spawnLogged, type NsProc } from '../../helpers/proc.js';

export interface ShellBlock {
  /** The `## ` section it sits in. */
  section: string;
  /** One entry per command: a line, or a here-document with its lines. */
  commands: string[];
}

/** Every ```sh block of a Markdown text, split into commands. */
export function shellBlocks(markdown: string): ShellBlock[] {
  const blocks: ShellBlock[] = [];
  let section = '';
  let current: string[] | undefined;
  for (const line of markdown.split('\n')) {
    if (current === undefined && line.startsWith('## ')) section = line.slice(3).trim();
    else if (current === undefined && line.trim() === '```sh') current = [];
    else if (current !== undefined && line.trim() === '```') {
      blocks.push({ section, commands: splitCommands(current) });
      current = undefined;
    } else if (current !== undefined) current.push(line);
  }
  return blocks;
}

function splitCommands(lines: string[]): string[] {
  const commands: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '' || line.trim().startsWith('#')) continue;
    const heredoc = /<<-?\s*'?(\w+)'?/.exec(line);
    if (heredoc) {
      const end = lines.indexOf(heredoc[1], i + 1);
      if (end === -1) throw new Error(`here-document ${heredoc[1]} is not closed: ${line}`);
      commands.push(lines.slice(i, end + 1).join('\n'));
      i = end;
      continue;
    }
    let command = line;
    while (command.endsWith('\\') && i + 1 < lines.length) command = `${command.slice(0, -1)}\n${lines[++i]}`;
    commands.push(command);
  }
  return commands;
}

/** The sudo of a root shell: run the command, keep the environment (as --preserve-env asks). */
const SUDO = `#!/bin/sh
while [ "$#" -gt 0 ]; do case "$1" in -*) shift ;; *) break ;; esac; done
exec "$@"
`;

const MARKER = '@@readme-done';
/** The session's working directory, in the copy. */
export const WORKDIR = '/root/readme';

export interface SessionOptions {
  /** Files to put in the working directory (host path → name there), as if downloaded. */
  files?: Record<string, string>;
  /** The copy of an earlier session to go on in (what it installed and wrote is there); default a fresh one. */
  copy?: string;
}

/**
 * A bash in a throw-away copy of this machine, in an empty working directory: in a lab host's network namespace,
 * or without `lab` in this machine's own (where the npm registry is reachable).
 */
export class ReadmeSession {
  readonly proc: NsProc;
  /** The copy: its upper layer keeps what the session wrote, for a later session to go on in. */
  readonly copy: string;
  #output = '';
  #waiters = new Set<() => void>();

  private constructor(proc: NsProc, copy: string) {
    this.proc = proc;
    this.copy = copy;
    for (const stream of [proc.child.stdout!, proc.child.stderr!]) {
      stream.on('data', (chunk: Buffer) => {
        this.#output += chunk.toString();
        for (const wake of this.#waiters) wake();
      });
    }
  }

  static async start(where: { lab: Lab; host: string } | undefined, options: SessionOptions = {}): Promise<ReadmeSession> {
    const copy = options.copy ?? await mkdtemp(join(tmpdir(), 'ce-readme-'));
    const root = join(copy, 'root');
    const work = WORKDIR;
    const copies = Object.entries(options.files ?? {}).map(([from, name]) => `cp ${quote(from)} ${quote(`${root}${work}/${name}`)}`).join(' && ');
    const env = { HOME: '/root', PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', TERM: 'dumb' };
    const setup = [
      'set -e',
      `mkdir -p ${quote(`${copy}/upper`)} ${quote(`${copy}/work`)} ${quote(root)}`,
      `mount -t overlay overlay -o ${quote(`lowerdir=/,upperdir=${copy}/upper,workdir=${copy}/work`)} ${quote(root)}`,
      `mount -t proc proc ${quote(`${root}/proc`)}`,
      `mount --rbind /dev ${quote(`${root}/dev`)}`,
      `mount --rbind /sys ${quote(`${root}/sys`)}`,
      `mount -t tmpfs tmpfs ${quote(`${root}/tmp`)}`,
      `mount -t tmpfs tmpfs ${quote(`${root}/run`)}`,
      `mkdir -p ${quote(`${root}${work}`)}`,
      ...(copies ? [copies] : []),
      `printf %s ${quote(SUDO)} > ${quote(`${root}/usr/local/bin/sudo`)} && chmod 755 ${quote(`${root}/usr/local/bin/sudo`)}`,
      `exec chroot ${quote(root)} /usr/bin/env -i ${Object.entries(env).map(([k, v]) => quote(`${k}=${v}`)).join(' ')} /bin/bash --noprofile --norc -c ${quote(`cd ${work} && exec 2>&1 && exec /bin/bash --noprofile --norc`)}`,
    ].join('\n');
    const args = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', setup];
    // Its own process group: stop() ends the shell and every job it started at once.
    const proc = where ? where.lab.spawn(where.host, args, { group: true }) : spawnLogged(args, 'readme', { detached: true });
    return new ReadmeSession(proc, copy);
  }

  get output(): string {
    return this.#output;
  }

  /** A file the session wrote, read from the copy's upper layer (undefined when it wrote none there). */
  async file(path: string): Promise<string | undefined> {
    return readFile(join(this.copy, 'upper', path), 'utf8').catch(() => undefined);
  }

  /** Runs one command; resolves with its exit code and what it printed (background jobs' lines may mix in). */
  async run(command: string, timeoutMs = 120_000): Promise<{ code: number; output: string }> {
    const from = this.#output.length;
    // In braces (no subshell: exports, cd and $! stay) with stdin from /dev/null, so that no command can read the
    // lines that follow it from this shell's input.
    this.proc.child.stdin!.write(`{ ${command}\n} </dev/null\necho "${MARKER} $?"\n`);
    const done = new RegExp(`^${MARKER} (\\d+)$`, 'm');
    await this.waitFor(() => done.test(this.#output.slice(from)), timeoutMs, `\`${command}\` did not finish`);
    const text = this.#output.slice(from);
    const match = done.exec(text)!;
    return { code: Number(match[1]), output: text.slice(0, match.index) };
  }

  /** Waits until the output since `from` matches. */
  async waitForOutput(pattern: RegExp, from: number, timeoutMs: number, what: string): Promise<void> {
    await this.waitFor(() => pattern.test(this.#output.slice(from)), timeoutMs, what);
  }

  waitFor(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!ready()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`${what} within ${timeoutMs} ms; the shell's last output:\n${this.#output.slice(-3000)}`));
      }, timeoutMs);
      this.#waiters.add(check);
      this.proc.exited.then(() => { if (!ready()) { clearTimeout(timer); this.#waiters.delete(check); reject(new Error(`the shell exited: ${what}; last output:\n${this.#output.slice(-3000)}`)); } }, () => undefined);
      check();
    });
  }

  /** Ends the shell and everything it started; the copy stays for another session (see remove). */
  async stop(): Promise<void> {
    const pid = this.proc.child.pid;
    if (pid !== undefined && this.proc.child.exitCode === null && this.proc.child.signalCode === null) {
      try { process.kill(-pid, 'SIGKILL'); } catch { this.proc.child.kill('SIGKILL'); }
    }
    await Promise.race([this.proc.exited, new Promise((r) => setTimeout(r, 5000))]);
  }

  async remove(): Promise<void> {
    await this.stop();
    await rm(this.copy, { recursive: true, force: true });
  }
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
