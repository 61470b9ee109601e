// Runs BIRD for serve: its own config, control socket and pidfile in bgp.runDirectory; BIRD in the foreground
// as a child that dies with serve (setpriv --pdeathsig: a speaker that outlived a killed serve would keep
// announcing an endpoint nobody serves); restarted with back-off when it exits on its own. The directory is
// locked by the caller (lock.ts); a BIRD found there whose serve is gone is stopped at start, and one whose
// serve is alive (in another network namespace, where the lock cannot see it) is refused.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import { runCommand, type CommandRunner } from '../vip/announcers/command.js';
import { birdCommand, type BirdReply } from './control.js';
import { inUse } from './lock.js';

export type SpeakerState = 'starting' | 'running' | 'restarting' | 'stopped';

export interface SupervisorOptions {
  runDirectory: string;
  logger: Logger;
  /** Called each time a BIRD answers on its socket (first start and every restart). */
  onRunning?: () => void;
  /** Default 'bird' on PATH. */
  bird?: string;
  run?: CommandRunner;
}

const READY_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 3000;
const BACKOFF_MS = [1000, 2000, 4000, 8000, 16_000, 30_000] as const;
/** A BIRD that ran this long resets the back-off. */
const STABLE_MS = 60_000;

export class BirdSupervisor {
  readonly configPath: string;
  readonly socketPath: string;
  readonly pidPath: string;
  readonly #o: SupervisorOptions;
  readonly #bird: string;
  readonly #run: CommandRunner;
  #child: ChildProcess | undefined;
  #state: SpeakerState = 'stopped';
  #restarts = 0;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#bird = options.bird ?? 'bird';
    this.#run = options.run ?? runCommand;
    this.configPath = join(options.runDirectory, 'bird.conf');
    this.socketPath = join(options.runDirectory, 'bird.ctl');
    this.pidPath = join(options.runDirectory, 'bird.pid');
  }

  get state(): SpeakerState { return this.#state; }
  get restarts(): number { return this.#restarts; }

  /** Writes `config` (the rendered bird.conf, mode 0600: it may hold passwords), checks it with bird -p, runs BIRD. */
  async start(config: string): Promise<void> {
    const version = await this.#run(this.#bird, ['--version']);
    if (version.missing) {
      throw new UserError('BGP', `bgp: the BGP speaker "${this.#bird}" (BIRD 2) is not installed`, { hint: 'install it (Debian/Ubuntu: apt-get install bird2; the distribution\'s bird service may stay disabled: serve runs its own), or remove the bgp section', exitCode: 2 });
    }
    if (!/BIRD version 2\./.test(version.stderr + version.stdout)) {
      throw new UserError('BGP', `bgp: "${this.#bird}" is not BIRD 2 (${(version.stderr + version.stdout).trim() || `exit ${version.code}`})`, { hint: 'install BIRD 2 (Debian: bird2)', exitCode: 2 });
    }
    await ensureRunDirectory(this.#o.runDirectory);
    await this.#stopLeftover();
    await writeFile(this.configPath, config, { mode: 0o600 });
    await chmod(this.configPath, 0o600);
    const check = await this.#run(this.#bird, ['-p', '-c', this.configPath]);
    if (check.code !== 0) {
      throw new UserError('BGP', `bgp: BIRD refuses the configuration serve wrote (${this.configPath}): ${(check.stderr || check.stdout).trim()}`, { hint: 'this is a bug in cluster-endpoint if the spec validates; please report it with the file', exitCode: 2 });
    }
    this.#state = 'starting';
    await this.#launch();
  }

  /** Sends one command on BIRD's control socket. */
  command(text: string): Promise<BirdReply> {
    return birdCommand(this.socketPath, text);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      // SIGTERM: BIRD closes its sessions with a Cease notification, so the routers withdraw at once.
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    this.#state = 'stopped';
    await rm(this.socketPath, { force: true });
    await rm(this.pidPath, { force: true });
  }

  async #launch(): Promise<void> {
    const args = ['-f', '-c', this.configPath, '-s', this.socketPath, '-P', this.pidPath];
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', this.#bird, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    const startedAt = Date.now();
    const output: string[] = [];
    const forward = (line: string) => {
      output.push(line);
      if (output.length > 20) output.shift();
      const level = /<(ERR|WARN|BUG|FATAL)>/.test(line) ? 'warn' : 'debug';
      this.#o.logger[level]({ event: 'bgp-speaker', line }, `bird: ${line}`);
    };
    createInterface({ input: child.stdout! }).on('line', forward);
    createInterface({ input: child.stderr! }).on('line', forward);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined);
    child.once('exit', (code, signal) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      if (this.#stopping) return;
      if (Date.now() - startedAt > STABLE_MS) this.#failures = 0;
      const delay = BACKOFF_MS[Math.min(this.#failures, BACKOFF_MS.length - 1)];
      this.#failures++;
      this.#state = 'restarting';
      this.#o.logger.error({ event: 'bgp-speaker', code, signal, restartInMs: delay }, `bird exited (${signal ?? `code ${code}`}): the endpoint is not announced; restarting it in ${delay / 1000}s${output.length ? `; last output: ${output.slice(-3).join(' | ')}` : ''}`);
      this.#restartTimer = setTimeout(() => {
        this.#restarts++;
        void this.#launch().catch((error: Error) => this.#o.logger.error({ event: 'bgp-speaker', error: error.message }, `bird did not come back: ${error.message}`));
      }, delay);
    });
    // Ready once the control socket answers.
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const gone = await Promise.race([exited.then(() => true), sleep(50).then(() => false)]);
      if (gone && this.#state === 'starting') {
        throw new UserError('BGP', `bgp: bird exited at start: ${output.slice(-3).join(' | ') || 'no output'}`, { hint: 'see the line above; another BGP daemon on port 179, or a run directory on a read-only file system, are the usual causes', exitCode: 2 });
      }
      if (gone) throw new Error(`exited again: ${output.slice(-3).join(' | ')}`);
      try {
        await this.command('show status');
        break;
      } catch (error) {
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new UserError('BGP', `bgp: bird did not answer on ${this.socketPath} within ${READY_TIMEOUT_MS / 1000}s: ${(error as Error).message}`, { exitCode: 2 });
        }
      }
    }
    this.#state = 'running';
    this.#o.logger.info({ event: 'bgp-speaker', pid: child.pid, config: this.configPath }, `bird running (pid ${child.pid}, ${this.configPath})`);
    this.#o.onRunning?.();
  }

  /** A BIRD whose pidfile is in our directory is from an earlier serve: stopped when that serve is gone. */
  async #stopLeftover(): Promise<void> {
    const pid = Number((await readFile(this.pidPath, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 1) {
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
      if (comm === 'bird') {
        const owner = await liveServeParent(pid);
        if (owner !== undefined && owner !== process.pid) throw inUse(this.#o.runDirectory, { pid: owner });
        this.#o.logger.warn({ event: 'bgp-speaker', pid }, `stopping bird ${pid} left running in ${this.#o.runDirectory} by an earlier serve`);
        signal(pid, 'SIGTERM');
        const deadline = Date.now() + STOP_TIMEOUT_MS;
        while (alive(pid) && Date.now() < deadline) await sleep(50);
        if (alive(pid)) signal(pid, 'SIGKILL');
      }
    }
    await rm(this.socketPath, { force: true });
    await rm(this.pidPath, { force: true });
  }
}

/** bgp.runDirectory, created when missing (serve owns it). */
export async function ensureRunDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new UserError('BGP', `bgp.runDirectory ${path} cannot be created: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { hint: 'run serve as root (it also puts the endpoint on lo), or set bgp.runDirectory to a writable directory', exitCode: 2, cause: error });
  }
}

/** The pid of a serve that is the parent of `pid` (its BIRD), or undefined when the parent is not a serve. */
async function liveServeParent(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const parent = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  if (parent <= 1) return undefined;
  const args = (await readFile(`/proc/${parent}/cmdline`, 'utf8').catch(() => '')).split('\0');
  return args.includes('serve') ? parent : undefined;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try { process.kill(pid, name); } catch { /* already gone */ }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
