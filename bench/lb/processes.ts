// Every process the bench starts goes through one ProcessGroup, so each one is stopped by its PID at the
// end, even when a measurement throws or the bench is interrupted.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Whether `name` is a command on the PATH (bash's `command -v`). */
export const commandExists = (name: string): boolean => spawnSync('bash', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;

/** Whether processes can be pinned to CPUs: taskset is there and there are two CPUs or more. */
export const canPin = (): boolean => commandExists('taskset') && availableParallelism() >= 2;

/** The kernel's clock ticks per second (getconf CLK_TCK; 100 when it prints nothing usable). */
export const clockTicksPerSecond = (): number => Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface StartOptions {
  /** CPU to pin the process to with taskset; undefined = no pinning. */
  cpu?: number;
  /** Soft and hard RLIMIT_NOFILE for the process (raised with `ulimit -n` in a wrapping shell that execs). */
  nofile?: number;
  /** stdout and stderr go to this file (never a pipe: a slow reader must not throttle the process). */
  logFile: string;
  cwd?: string;
  /** Keep stdout as a pipe (for helpers that print one result line). */
  pipeStdout?: boolean;
  /** Keep stdin as a pipe. */
  pipeStdin?: boolean;
}

export interface Started {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  hasExited(): boolean;
}

export class ProcessGroup {
  readonly #running = new Map<number, Started>();
  readonly #taskset: boolean;

  /** taskset: pin processes that ask for a CPU (otherwise the cpu option is ignored). */
  constructor(taskset: boolean) {
    this.#taskset = taskset;
  }

  start(name: string, command: string, args: string[], options: StartOptions): Started {
    let argv = [command, ...args];
    if (options.cpu !== undefined && this.#taskset) argv = ['taskset', '-c', String(options.cpu), ...argv];
    // `exec` keeps the PID: the PID we hold is the process itself, not a shell around it.
    const script = `${options.nofile ? `ulimit -n ${options.nofile} || exit 97; ` : ''}exec "$@"`;
    const out = openSync(options.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn('bash', ['-c', script, name, ...argv], {
        cwd: options.cwd,
        stdio: [options.pipeStdin ? 'pipe' : 'ignore', options.pipeStdout ? 'pipe' : out, out],
      });
    } finally {
      closeSync(out);
    }
    if (child.pid === undefined) throw new Error(`could not start ${name}: ${command}`);
    let done = false;
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code, signal) => {
        done = true;
        this.#running.delete(child.pid!);
        resolve(code ?? (signal ? -1 : null));
      });
      child.once('error', () => {
        done = true;
        this.#running.delete(child.pid!);
        resolve(-1);
      });
    });
    const started: Started = { name, pid: child.pid, child, exited, hasExited: () => done };
    this.#running.set(child.pid, started);
    return started;
  }

  /** SIGTERM, then SIGKILL after graceMs. Resolves when the process is gone. */
  async stop(started: Started, graceMs = 5000): Promise<void> {
    if (started.hasExited()) return;
    signal(started.pid, 'SIGTERM');
    const timer = setTimeout(() => signal(started.pid, 'SIGKILL'), graceMs);
    await started.exited;
    clearTimeout(timer);
  }

  async stopAll(graceMs = 5000): Promise<void> {
    await Promise.all([...this.#running.values()].map((p) => this.stop(p, graceMs)));
  }

  /** Synchronous last resort for process 'exit': SIGKILL whatever is still running. */
  killAllNow(): void {
    for (const pid of this.#running.keys()) signal(pid, 'SIGKILL');
    this.#running.clear();
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** PIDs of pid and all its descendants (a balancer may run worker processes). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of listDir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = readStat(Number(entry))?.ppid;
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const result: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    result.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return result;
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

interface Stat {
  ppid: number;
  /** utime and stime in clock ticks, and their sum. */
  user: number;
  system: number;
  cpuTicks: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const user = Number(fields[11]);
  const system = Number(fields[12]);
  return { ppid: Number(fields[1]), user, system, cpuTicks: user + system };
}

/** CPU time of one process (not its descendants) in clock ticks: user, system, and their sum. */
export function processTicks(pid: number): { user: number; system: number; total: number } {
  const stat = readStat(pid);
  if (!stat) throw new Error(`process ${pid} is gone`);
  return { user: stat.user, system: stat.system, total: stat.cpuTicks };
}

/** Resident set size in KiB (VmRSS) summed over pid and its descendants. */
export function rssKiB(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (match) total += Number(match[1]);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** CPU time (user + system) in clock ticks summed over pid and its descendants. */
export function cpuTicks(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) total += readStat(p)?.cpuTicks ?? 0;
  return total;
}

/** Open file descriptors of pid and its descendants. */
export function openFds(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) total += listDir(`/proc/${p}/fd`).length;
  return total;
}
