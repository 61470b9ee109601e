// Flow-state sync between the peers that share the VIP: serve writes conntrackd's configuration, starts
// it, restarts it with back-off, and drives it the way conntrackd's primary-backup setup does: on
// takeover commit the flows received from the peer into the kernel (before the VIP is announced, so the
// first packets find them), then resync and send a bulk update; on standby ask the new primary for its
// state.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SyncSnapshot } from '../../runtime/snapshot.js';
import type { Peer, Vip } from '../../spec/types.js';
import { conntrackdPaths, parseConntrackdStats, renderConntrackd, type ConntrackdPaths, type ConntrackdStats } from './conntrackd.js';
import { deleteFlowsTo, run } from './engines.js';

/** A peer whose messages stopped for this long is not reachable (conntrackd sends one every second). */
const REACHABLE_MS = 3000;
const STATS_EVERY_MS = 2000;
const START_TIMEOUT_MS = 5000;
const MAX_BACKOFF_MS = 30_000;

/** Where serve keeps its helpers' files: systemd's RuntimeDirectory, else /run/cluster-endpoint. */
export function runDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return env.RUNTIME_DIRECTORY?.split(':')[0] || '/run/cluster-endpoint';
}

export class FlowSync {
  readonly #vip: Vip;
  readonly #self: Peer;
  readonly #logger: Logger;
  readonly #paths: ConntrackdPaths;
  #child: ChildProcess | undefined;
  #stopped = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #statsTimer: NodeJS.Timeout | undefined;
  #backoffMs = 1000;
  #stats: ConntrackdStats | undefined;
  #lastReceivedChange = 0;
  #lastCommit: SyncSnapshot['lastCommit'];
  #commits = 0;
  #restarts = 0;
  #role: 'primary' | 'backup' = 'backup';

  /** `cluster`: the spec's cluster.name, so that the serves of several clusters on one host keep their own files. */
  constructor(vip: Vip, self: Peer, logger: Logger, cluster: string, dir = join(runDirectory(), `conntrackd-${cluster}-${self.name}`)) {
    this.#vip = vip;
    this.#self = self;
    this.#logger = logger;
    this.#paths = conntrackdPaths(dir);
  }

  /** Writes the configuration and starts conntrackd; a clear UserError when it cannot run. */
  async start(): Promise<void> {
    try {
      await run('conntrackd', ['-v']);
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      throw new UserError('KERNEL', 'vip.sync.flows needs conntrackd, which is not installed', { hint: 'apt-get install conntrackd, or set vip.sync.flows: false (established connections are then cut when the VIP moves)', exitCode: 2 });
    }
    await mkdir(this.#paths.dir, { recursive: true, mode: 0o700 });
    await writeFile(this.#paths.config, renderConntrackd({ vip: this.#vip.address, self: this.#self, peers: this.#vip.peers, sync: this.#vip.sync!, paths: this.#paths }), { mode: 0o600 });
    // A lock left by a conntrackd that died with us would stop the next one from starting.
    await rm(this.#paths.lock, { force: true });
    await this.#spawn();
    if (!(await this.#waitAnswering(START_TIMEOUT_MS))) {
      const log = await this.#logTail();
      this.#stopped = true;
      this.#child?.kill('SIGKILL');
      throw new UserError('KERNEL', `conntrackd did not start for the flow sync on ${this.#vip.sync!.interface} (port ${this.#vip.sync!.port})${log ? `: ${log}` : ''}`, {
        hint: 'check vip.sync.interface and that the UDP port is free; the peers\' addresses must be on that link',
        exitCode: 2,
      });
    }
    this.#statsTimer = setInterval(() => void this.#readStats(), STATS_EVERY_MS);
    this.#statsTimer.unref();
    this.#logger.info({ event: 'sync', state: 'started', config: this.#paths.config }, `flow sync: conntrackd started (${this.#vip.peers.length === 2 ? 'UDP' : 'multicast'} on ${this.#vip.sync!.interface}, port ${this.#vip.sync!.port})`);
  }

  /**
   * This host takes the VIP: the peer's flows go into the kernel before the VIP is announced (awaited);
   * learning the kernel's table and the bulk update to the peers follow in the background, so they do not
   * delay the announcement.
   */
  async takeover(): Promise<void> {
    this.#role = 'primary';
    const started = Date.now();
    // This host's own entries are stale: while it was backup the primary carried the flows on and their
    // sequence numbers moved past what they hold. A commit does not replace an entry the kernel already
    // has, so they go first (conntrackd's primary-backup script only shortens their timers, to 60 s).
    // Only this endpoint's (forwarded to its VIP): another cluster's serve on this host carries its own.
    const stale = await deleteFlowsTo(this.#vip.address).catch((error: Error) => {
      this.#logger.warn({ event: 'sync', state: 'takeover', error: error.message }, `flow sync: removing this host's stale flows failed: ${error.message}`);
      return 0;
    });
    // The count comes from conntrackd's own log line ("Committed N new entries"), read from its stdout.
    this.#lastCommit = { at: started, flows: 0, ms: 0, ok: false };
    const commit = await this.#ctl('-c');
    const ms = Date.now() - started;
    this.#commits++;
    Object.assign(this.#lastCommit, { ms, ok: commit.code === 0 });
    if (commit.code !== 0) this.#logger.error({ event: 'sync', state: 'takeover', error: commit.stderr.trim() }, `flow sync: committing the peer's flows failed (${commit.stderr.trim() || `exit ${commit.code}`}); established connections may be cut`);
    else this.#logger.info({ event: 'sync', state: 'takeover', ms, stale }, `flow sync: ${stale > 0 ? `removed ${stale} stale flow(s), ` : ''}committed the peer's flows in ${ms} ms`);
    void (async () => {
      for (const flag of ['-f', '-R', '-B'] as const) {
        const result = await this.#ctl(flag);
        if (result.code !== 0) this.#logger.warn({ event: 'sync', state: 'takeover', flag, error: result.stderr.trim() }, `flow sync: conntrackd ${flag} failed: ${result.stderr.trim()}`);
      }
      await this.#readStats();
    })();
  }

  /**
   * This host gave the VIP up (or starts as backup): ask the primary for its state. Its own entries for the
   * flows stay until the next takeover (deleting them now would send their destruction to a peer that has not
   * committed yet, and lose those flows there).
   */
  async standby(): Promise<void> {
    this.#role = 'backup';
    const result = await this.#ctl('-n');
    if (result.code !== 0) this.#logger.warn({ event: 'sync', state: 'standby', error: result.stderr.trim() }, `flow sync: asking the primary for its flows failed: ${result.stderr.trim()}`);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    clearInterval(this.#statsTimer);
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.#paths.lock, { force: true });
  }

  snapshot(): SyncSnapshot {
    const stats = this.#stats;
    return {
      engine: 'conntrackd',
      role: this.#role,
      running: this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null,
      peerReachable: stats !== undefined && Date.now() - this.#lastReceivedChange < REACHABLE_MS,
      flowsLocal: stats?.internal ?? 0,
      flowsFromPeers: stats?.external ?? 0,
      messagesSent: stats?.messagesSent ?? 0,
      messagesReceived: stats?.messagesReceived ?? 0,
      messagesLost: stats?.lost ?? 0,
      commits: this.#commits,
      restarts: this.#restarts,
      ...(this.#lastCommit ? { lastCommit: { ...this.#lastCommit } } : {}),
    };
  }

  async #spawn(): Promise<void> {
    // setpriv --pdeathsig: conntrackd dies with serve, so a killed serve never leaves one holding the port.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', 'conntrackd', '-C', this.#paths.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    // In console mode conntrackd logs to stdout too: how many flows a commit put into the kernel is said there.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const committed = /Committed (\d+) new entries/.exec(line);
      if (committed && this.#lastCommit) this.#lastCommit.flows = Number(committed[1]);
      this.#logger.debug({ event: 'sync', conntrackd: line }, `conntrackd: ${line}`);
    });
    child.stderr!.on('data', (d: Buffer) => this.#logger.debug({ event: 'sync', conntrackd: d.toString().trim() }, `conntrackd: ${d.toString().trim()}`));
    child.once('error', (error) => this.#logger.error({ event: 'sync', error: error.message }, `flow sync: conntrackd failed: ${error.message}`));
    child.once('exit', (code, signal) => {
      if (this.#stopped || this.#child !== child) return;
      this.#logger.error({ event: 'sync', state: 'exited', code, signal }, `flow sync: conntrackd exited (${signal ?? `code ${code}`}); restarting in ${this.#backoffMs / 1000}s`);
      this.#restartTimer = setTimeout(() => void this.#restart(), this.#backoffMs);
      this.#restartTimer.unref();
      this.#backoffMs = Math.min(MAX_BACKOFF_MS, this.#backoffMs * 2);
    });
  }

  async #restart(): Promise<void> {
    if (this.#stopped) return;
    this.#restarts++;
    await rm(this.#paths.lock, { force: true });
    await this.#spawn();
    if (await this.#waitAnswering(START_TIMEOUT_MS)) {
      this.#backoffMs = 1000;
      this.#logger.info({ event: 'sync', state: 'restarted' }, 'flow sync: conntrackd is back');
      // A restarted conntrackd knows nothing: learn the kernel's flows (primary) or ask for the peer's.
      if (this.#role === 'primary') { await this.#ctl('-R'); await this.#ctl('-B'); } else await this.#ctl('-n');
    }
  }

  async #waitAnswering(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.#child?.exitCode !== null && this.#child?.exitCode !== undefined) return false;
      // Only real statistics count: a conntrackd that fails during its start-up (a bad interface, a port in
      // use) can accept the request and exit, and `-s` then exits 0 having printed nothing.
      const stats = await this.#ctl('-s');
      if (stats.code === 0 && /cache internal/.test(stats.stdout)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  #ctl(flag: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return run('conntrackd', ['-C', this.#paths.config, flag]);
  }

  async #readStats(): Promise<ConntrackdStats | undefined> {
    const result = await this.#ctl('-s').catch(() => undefined);
    if (!result || result.code !== 0) return this.#stats;
    const stats = parseConntrackdStats(result.stdout);
    if (this.#stats === undefined || stats.messagesReceived !== this.#stats.messagesReceived) this.#lastReceivedChange = Date.now();
    this.#stats = stats;
    return stats;
  }

  async #logTail(): Promise<string> {
    const text = await readFile(this.#paths.log, 'utf8').catch(() => '');
    return text.trim().split('\n').slice(-3).map((l) => l.replace(/^\[[^\]]*\] \(pid=\d+\) /, '')).join(' / ');
  }
}
