// Announces the endpoint with BGP while this host's balancer can serve: the run directory locked, the announced
// addresses on lo, BIRD run by the supervisor, and the balancer's health, re-read at every membership change,
// that enables or disables the addresses' static protocols (announce or withdraw on every session at once).
// Session state is read back from BIRD's control socket every second. A planned stop withdraws first, waits
// withdrawDelay for the routers, then stops BIRD (the daemon drains after).
import { networkInterfaces } from 'node:os';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EndpointHealth } from '../membership/health.js';
import type { BgpPeerSnapshot, BgpSnapshot } from '../runtime/snapshot.js';
import type { Bgp } from '../spec/types.js';
import { runCommand, type CommandRunner } from '../vip/announcers/command.js';
import { EndpointAddress } from './address.js';
import { birdConfig, endpointRoutes, peerAddress, peerProtocol, type EndpointRoute } from './config.js';
import { lockRunDirectory, type RunDirectoryLock } from './lock.js';
import { readPasswords } from './passwords.js';
import { parseBfdSessions, parseProtocols, parseRouterId } from './state.js';
import { BirdSupervisor } from './supervisor.js';

export interface BgpAnnouncerOptions {
  /** The announced addresses (bgp.addresses). */
  addresses: readonly string[];
  /** This host's view of the bgp section (src/spec/hosts.ts). */
  bgp: Bgp;
  /** Whether the balancer can serve, re-read when it says the membership changed. */
  health: EndpointHealth;
  logger: Logger;
  /** The spec file, named in the rendered config's header. */
  source: string;
  bird?: string;
  run?: CommandRunner;
}

export const STATE_POLL_MS = 1000;
/** After a withdrawal, how long to wait for BIRD to have sent it on every established session. */
const WITHDRAW_SENT_TIMEOUT_MS = 1000;

export class BgpAnnouncer {
  readonly #o: BgpAnnouncerOptions;
  readonly #routes: EndpointRoute[];
  readonly #addresses: EndpointAddress[];
  readonly #speaker: BirdSupervisor;
  #lock: RunDirectoryLock | undefined;
  readonly #peers: Map<string, BgpPeerSnapshot>;
  #routerId: string | undefined;
  #healthy = false;
  /** What serve last told BIRD; undefined = not told since BIRD started (its config starts withdrawn). */
  #announced: boolean | undefined;
  #transitions = 0;
  #queue: Promise<void> = Promise.resolve();
  #unsubscribe: (() => void) | undefined;
  #stateTimer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #warnedNoSession = false;
  #warnedNoSocket = false;
  #stopped = false;

  constructor(options: BgpAnnouncerOptions) {
    this.#o = options;
    const run = options.run ?? runCommand;
    this.#routes = endpointRoutes(options.addresses);
    this.#addresses = options.addresses.map((address, index) => new EndpointAddress(address, options.bgp.runDirectory, run, index === 0 ? 'address' : `address-${index + 1}`));
    this.#speaker = new BirdSupervisor({
      runDirectory: options.bgp.runDirectory, logger: options.logger, bird: options.bird, run,
      onRunning: () => { this.#announced = undefined; this.#sync(); void this.#readRouterId(); },
    });
    const now = Date.now();
    this.#peers = new Map(options.bgp.peers.map((p) => [p.name, {
      name: p.name, address: p.address, asn: p.asn, ...(this.#routes.length > 1 ? { prefix: this.#routeOf(p).prefix } : {}),
      state: 'idle', stateSince: now, routeAnnounced: false, sessionDrops: 0,
    }]));
  }

  /** Locks the run directory and puts the addresses on lo (call before the balancer binds them). Idempotent. */
  async prepare(): Promise<void> {
    this.#lock ??= await lockRunDirectory(this.#o.bgp.runDirectory, this.#o.source);
    for (const address of this.#addresses) await address.ensure();
  }

  async start(): Promise<void> {
    await this.prepare();
    this.#checkRouterId();
    const passwords = await readPasswords(this.#o.bgp.peers, this.#o.logger);
    const config = birdConfig({ addresses: this.#o.addresses, bgp: this.#o.bgp, log: 'stderr', header: [`Written by cluster-endpoint serve from ${this.#o.source}; rewritten at every start.`], passwords });
    this.#startedAt = Date.now();
    await this.#speaker.start(config);
    this.#unsubscribe = this.#o.health.onChange(() => this.#sync());
    this.#sync();
    this.#stateTimer = setInterval(() => void this.#refresh(), STATE_POLL_MS);
    this.#stateTimer.unref();
    await this.#refresh();
    const taken = [...this.#peers.values()].filter((p) => NO_SOCKET.test(p.lastError ?? ''));
    if (taken.length > 0) throw portTaken(taken.map((p) => p.name));
    const peers = this.#o.bgp.peers.map((p) => `${p.name} ${p.address} AS${p.asn}`).join(', ');
    const prefixes = this.#routes.map((r) => r.prefix).join(' and ');
    this.#o.logger.info({ event: 'bgp-started', prefix: this.#routes[0].prefix, prefixes: this.#routes.map((r) => r.prefix), peers: this.#o.bgp.peers.map((p) => p.name) }, `bgp: announcing ${prefixes} from AS${this.#o.bgp.localAsn} to ${peers} while the balancer is healthy`);
  }

  /** The route a peer carries: the one of its family. */
  #routeOf(peer: Bgp['peers'][number]): EndpointRoute {
    const { family } = peerAddress(peer);
    return this.#routes.find((r) => r.family === family) ?? this.#routes[0];
  }

  /** auto takes the lowest IPv4 address outside lo: without one BIRD refuses to start, so say it first. */
  #checkRouterId(): void {
    if (this.#o.bgp.routerId !== 'auto') return;
    const candidates = Object.entries(networkInterfaces()).filter(([name]) => name !== 'lo').flatMap(([, list]) => list ?? []).filter((i) => i.family === 'IPv4' && !this.#o.addresses.includes(i.address));
    if (candidates.length > 0) return;
    throw new UserError('BGP', 'bgp.routerId is auto, and this host has no IPv4 address outside lo to take it from: BIRD cannot start', {
      hint: 'write this host\'s router id (an IPv4-formatted id unique per host) in bgp.hosts[].routerId, or bgp.routerId in a spec per host', exitCode: 2,
    });
  }

  /** Withdraw, let the routers converge, stop the speaker, take the addresses off lo, unlock the directory. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    clearInterval(this.#stateTimer);
    const wasAnnounced = this.#announced === true;
    if (this.#speaker.state === 'running') {
      await this.#enqueue(() => this.#tell(false, 'stopping'));
      if (wasAnnounced) {
        await this.#waitWithdrawn();
        this.#o.logger.info({ event: 'bgp-withdrawn', waitMs: this.#o.bgp.withdrawDelayMs }, `bgp: withdrawn; waiting ${this.#o.bgp.withdrawDelayMs / 1000}s for the routers before closing`);
        await sleep(this.#o.bgp.withdrawDelayMs);
      }
    }
    await this.#speaker.stop();
    for (const address of this.#addresses) await address.release();
    await this.#lock?.release();
  }

  snapshot(): { bgp: BgpSnapshot } {
    return {
      bgp: {
        prefix: this.#routes[0].prefix,
        ...(this.#routes.length > 1 ? { prefixes: this.#routes.map((r) => r.prefix) } : {}),
        localAsn: this.#o.bgp.localAsn,
        ...(this.#routerId ? { routerId: this.#routerId } : {}),
        speaker: this.#speaker.state,
        speakerRestarts: this.#speaker.restarts,
        healthy: this.#healthy,
        announced: this.#announced === true,
        transitions: this.#transitions,
        peers: [...this.#peers.values()].map((p) => ({ ...p })),
      },
    };
  }

  /** Tells BIRD what health asks for, when that differs from what it was told. */
  #sync(): void {
    if (this.#stopped) return;
    this.#healthy = this.#o.health.healthy();
    if (this.#speaker.state !== 'running' || this.#healthy === this.#announced) return;
    const want = this.#healthy;
    void this.#enqueue(() => (this.#announced === want || this.#stopped ? Promise.resolve() : this.#tell(want, want ? 'the balancer is healthy' : 'no healthy server on the kubernetes listener')));
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    this.#queue = this.#queue.then(task, task);
    return this.#queue;
  }

  async #tell(announce: boolean, why: string): Promise<void> {
    for (const route of this.#routes) {
      let reply;
      try {
        reply = await this.#speaker.command(`${announce ? 'enable' : 'disable'} ${route.protocol}`);
      } catch (error) {
        this.#o.logger.error({ event: 'bgp-error', error: (error as Error).message }, `bgp: cannot tell bird to ${announce ? 'announce' : 'withdraw'} ${route.prefix}: ${(error as Error).message}`);
        return;
      }
      if (reply.code >= 8000) {
        this.#o.logger.error({ event: 'bgp-error', reply: reply.lines.map((l) => l.text) }, `bgp: bird refused to ${announce ? 'enable' : 'disable'} ${route.protocol}: ${reply.lines.map((l) => l.text).join('; ')}`);
        return;
      }
    }
    const changed = this.#announced !== undefined || announce;
    this.#announced = announce;
    if (!changed) return;
    this.#transitions++;
    const prefixes = this.#routes.map((r) => r.prefix);
    this.#o.logger[announce ? 'info' : 'warn']({ event: announce ? 'bgp-announce' : 'bgp-withdraw', prefix: prefixes[0], prefixes, reason: why }, `bgp: ${announce ? 'announcing' : 'withdrawing'} ${prefixes.join(' and ')}: ${why}`);
  }

  /** Until BIRD exports the route on no established session (it has sent the withdrawals), bounded. */
  async #waitWithdrawn(): Promise<void> {
    const deadline = Date.now() + WITHDRAW_SENT_TIMEOUT_MS;
    do {
      await this.#refresh();
      if (![...this.#peers.values()].some((p) => p.routeAnnounced)) return;
      await sleep(20);
    } while (Date.now() < deadline);
  }

  async #readRouterId(): Promise<void> {
    try {
      this.#routerId = parseRouterId(await this.#speaker.command('show status')) ?? this.#routerId;
    } catch { /* the next start reads it */ }
  }

  async #refresh(): Promise<void> {
    // A command BIRD refused or never got is told again here (changes themselves come by event).
    this.#sync();
    if (this.#speaker.state !== 'running') {
      for (const peer of this.#peers.values()) this.#setState(peer, 'down', undefined);
      return;
    }
    let protocols;
    let bfd = new Map<string, string>();
    try {
      protocols = parseProtocols(await this.#speaker.command('show protocols all'));
      if (this.#o.bgp.peers.some((p) => p.bfd)) bfd = parseBfdSessions(await this.#speaker.command('show bfd sessions'));
    } catch {
      return; // BIRD is restarting: the supervisor says so
    }
    const byName = new Map(protocols.map((p) => [p.name, p]));
    for (const spec of this.#o.bgp.peers) {
      const peer = this.#peers.get(spec.name)!;
      const protocol = byName.get(peerProtocol(spec));
      const state = (protocol?.fields['BGP state'] ?? 'down').toLowerCase();
      this.#setState(peer, state, protocol?.fields['Last error']);
      peer.routeAnnounced = state === 'established' && (protocol?.exported ?? 0) > 0;
      const session = bfd.get(peerAddress(spec).ip);
      if (session) peer.bfd = session.toLowerCase();
      else delete peer.bfd;
    }
    this.#warnIfNoSession();
    this.#warnIfNoSocket();
  }

  /** BIRD could not listen on port 179: another speaker has it. Said once; at start serve refuses instead. */
  #warnIfNoSocket(): void {
    if (this.#warnedNoSocket || this.#startedAt === 0) return;
    const taken = [...this.#peers.values()].filter((p) => NO_SOCKET.test(p.lastError ?? ''));
    if (taken.length === 0) return;
    this.#warnedNoSocket = true;
    const error = portTaken(taken.map((p) => p.name));
    this.#o.logger.error({ event: 'bgp-no-socket', peers: taken.map((p) => p.name) }, `${error.message}; fix: ${error.hint}`);
  }

  #setState(peer: BgpPeerSnapshot, state: string, lastError: string | undefined): void {
    if (lastError) peer.lastError = lastError;
    if (state === peer.state) return;
    const was = peer.state;
    if (was === 'established') peer.sessionDrops++;
    peer.state = state;
    peer.stateSince = Date.now();
    if (state === 'established') {
      this.#o.logger.info({ event: 'bgp-session', peer: peer.name, state }, `bgp: session with ${peer.name} (${peer.address}) established`);
    } else if (was === 'established') {
      this.#o.logger.warn({ event: 'bgp-session', peer: peer.name, state, lastError: peer.lastError }, `bgp: session with ${peer.name} (${peer.address}) lost (${state}${peer.lastError ? `: ${peer.lastError}` : ''})`);
    }
  }

  /**
   * serve waits for sessions instead of failing: a router that is rebooting must not keep a healthy balancer
   * from starting (and clients reach the other hosts meanwhile). It says so once, with BIRD's reason.
   */
  #warnIfNoSession(): void {
    if (this.#warnedNoSession || Date.now() - this.#startedAt < this.#o.bgp.holdTimeMs) return;
    const peers = [...this.#peers.values()];
    if (peers.some((p) => p.state === 'established')) return;
    this.#warnedNoSession = true;
    const detail = peers.map((p) => `${p.name} ${p.address}: ${p.state}${p.lastError ? ` (${p.lastError})` : ''}`).join('; ');
    this.#o.logger.warn({ event: 'bgp-no-session', peers: peers.map((p) => ({ name: p.name, state: p.state, lastError: p.lastError })) },
      `bgp: no BGP session is up after ${this.#o.bgp.holdTimeMs / 1000}s, so no router sends clients here; serve keeps retrying. ${detail}. Check the peer addresses and ASNs, and that the routers list this host as a neighbor`);
  }
}

/** BIRD's last error when it cannot bind its listening socket (port 179 taken by another speaker). */
const NO_SOCKET = /No listening socket/;

function portTaken(peers: string[]): UserError {
  return new UserError('BGP', `bgp: BIRD cannot listen for the sessions with ${peers.join(', ')}: the BGP port on this host is taken by another speaker (another serve's BIRD, or a routing daemon)`, {
    hint: 'give each serve on a host its own sessions\' sourceAddress (BIRD then listens on that address alone), or stop the other speaker', exitCode: 2,
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
