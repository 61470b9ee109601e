// The VIP manager: the I/O shell around the pure election machine. It owns the UDP socket, the one timer,
// the health subscription and the announcer; every decision is made by step() in election/machine.ts.
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { UserError } from '../errors.js';
import type { Logger } from '../log.js';
import type { EndpointHealth } from '../membership/health.js';
import type { VipSnapshot, VipTransition } from '../runtime/snapshot.js';
import type { Peer, Vip } from '../spec/types.js';
import type { Announcer } from './announcers/announcer.js';
import { IpAddrAnnouncer } from './announcers/ip-addr.js';
import { NopAnnouncer } from './announcers/nop.js';
import {
  initialState, nextDeadline, step, type ElectionAction, type ElectionConfig, type ElectionEvent, type ElectionState,
} from './election/machine.js';
import { localAddresses } from '../local-addresses.js';
import { addressBytes } from './election/address-order.js';
import { DEFAULT_VIP_PORT, decodeAdvert, encodeAdvert, ReplayGuard, SequenceSource, type DropReason } from './election/packet.js';
import { joinHostPort } from '../spec/address.js';

export interface VipManagerOptions {
  vip: Vip;
  self: Peer;
  /** Whether this host's balancer can serve, re-read when it says the membership changed. */
  health: EndpointHealth;
  logger: Logger;
  /** Default: iproute2 + arping on Linux, in-memory elsewhere. */
  announcer?: Announcer;
  /** UDP port of the advertisements on every peer. Default 5798. */
  port?: number;
  /** Healthy time needed before a faulty peer competes again. Default 2 × advertisement interval. */
  holdDownMs?: number;
  /** Planned stop: how long the VIP stays after a peer took over. Default max(2 × interval, 250 ms). */
  handoverGraceMs?: number;
  /** A peer's first packet may be at most this old (replay protection across restarts). Default 120 s. */
  maxPacketAgeMs?: number;
}

export interface VipStats {
  sent: number;
  received: number;
  dropped: Record<DropReason, number>;
}

const KEEP_TRANSITIONS = 50;
const DROP_LOG_EVERY_MS = 5000;

export class VipManager {
  readonly #o: VipManagerOptions;
  readonly #config: ElectionConfig;
  readonly #announcer: Announcer;
  readonly #sequence = new SequenceSource();
  readonly #guard: ReplayGuard;
  readonly #key: string;
  readonly #port: number;
  readonly #transitions: VipTransition[] = [];
  readonly #stats: VipStats = { sent: 0, received: 0, dropped: { malformed: 0, auth: 0, 'router-id': 0, 'unknown-peer': 0, source: 0, replay: 0 } };
  readonly #dropLoggedAt = new Map<DropReason, number>();
  #state: ElectionState;
  /** All transitions since start (#transitions keeps only the last few). */
  #transitionsTotal = 0;
  #socket?: Socket;
  #timer?: NodeJS.Timeout;
  #unsubscribe?: () => void;
  #addressOps: Promise<void> = Promise.resolve();
  readonly #sending = new Set<Promise<void>>();
  #stopped = false;
  #handoverDone?: () => void;
  /** How late the timer fired, logged with a transition it caused (a busy event loop shows here). */
  #tickLateMs?: number;

  constructor(options: VipManagerOptions) {
    const { vip, self } = options;
    const key = vip.authKey ?? process.env.CLUSTER_ENDPOINT_VIP_KEY;
    if (!key) {
      throw new UserError('VIP', 'serve needs a shared key to authenticate VIP advertisements', { hint: 'set vip.authKey in the spec or CLUSTER_ENDPOINT_VIP_KEY in the environment (the same on every peer)' });
    }
    if (!vip.unicast) {
      throw new UserError('VIP', 'serve sends VIP advertisements by unicast only (vip.unicast: false is for keepalived)', { hint: 'remove vip.unicast or set it to true' });
    }
    if (!vip.peers.some((p) => p.name === self.name)) {
      throw new UserError('VIP', `peer ${self.name} is not in vip.peers`, { hint: `use one of: ${vip.peers.map((p) => p.name).join(', ')}` });
    }
    this.#o = options;
    this.#key = key;
    this.#port = options.port ?? DEFAULT_VIP_PORT;
    this.#guard = new ReplayGuard(options.maxPacketAgeMs ?? 120_000);
    this.#config = {
      self: { name: self.name, address: self.address, priority: self.priority },
      peers: vip.peers.map((p) => ({ name: p.name, address: p.address, priority: p.priority })),
      advertIntervalMs: vip.advertIntervalMs,
      preempt: vip.preempt,
      holdDownMs: options.holdDownMs ?? 2 * vip.advertIntervalMs,
      handoverGraceMs: options.handoverGraceMs ?? Math.max(2 * vip.advertIntervalMs, 250),
    };
    this.#announcer = options.announcer ?? defaultAnnouncer(vip, self, options.logger);
    this.#state = initialState(this.#config);
  }

  async start(): Promise<void> {
    if (this.#socket || this.#stopped) return;
    const socket = createSocket({ type: isIP(this.#o.self.address) === 6 ? 'udp6' : 'udp4' });
    socket.on('message', (packet, remote) => this.#receive(packet, remote.address));
    socket.on('error', (error) => this.#o.logger.error({ err: error.message }, 'vip socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (error: NodeJS.ErrnoException) => reject(new UserError('VIP', `cannot bind the VIP advertisement socket to ${joinHostPort(this.#o.self.address, this.#port)}: ${error.code ?? error.message}`, {
        hint: `peer ${this.#o.self.name}'s address must be on this host (check vip.peers and --peer) and UDP port ${this.#port} free (each serve on a host needs its own vip.port)`,
        cause: error,
      })));
      socket.bind({ address: this.#o.self.address, port: this.#port, exclusive: true }, () => resolve());
    });
    try {
      await this.#announcer.prepare?.();
    } catch (error) {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      this.#announcer.close?.();
      throw error;
    }
    this.#socket = socket;
    this.#o.logger.info({ vip: this.#o.vip.address, self: this.#o.self.name, priority: this.#o.self.priority, advertIntervalMs: this.#o.vip.advertIntervalMs }, 'vip manager started');
    this.#feed({ type: 'start', now: Date.now(), healthy: this.#healthy() });
    this.#unsubscribe = this.#o.health.onChange(() => {
      if (this.#stopped) return;
      const healthy = this.#healthy();
      if (healthy !== this.#state.healthy) this.#feed({ type: 'health', now: Date.now(), healthy });
    });
    await this.#addressOps;
  }

  /**
   * Planned stop: tell the peers (priority 0) so one takes over at once, keep the VIP (and, in the daemon, the
   * listeners) until it has plus a short grace for neighbours to follow its ARP, then remove it. Resolves within
   * 3 × the advertisement interval when nobody takes over. Call it before closing the listeners.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    if (this.#socket) {
      const handedOver = new Promise<void>((resolve) => { this.#handoverDone = resolve; });
      this.#feed({ type: 'stop', now: Date.now() });
      await handedOver;
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    // Closing the socket cancels queued sends: the priority-0 advertisement must leave first.
    await Promise.all([this.#addressOps, ...this.#sending]);
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
    this.#announcer.close?.();
  }

  snapshot(): VipSnapshot {
    const { vip, self } = this.#o;
    const role = this.#state.role;
    return {
      address: vip.address,
      prefixLength: vip.prefixLength,
      interface: vip.interface,
      self: self.name,
      role,
      holder: this.#state.holder,
      priority: self.priority,
      effectivePriority: role === 'master' || role === 'backup' ? self.priority : 0,
      transitions: this.#transitions.map((t) => ({ ...t })),
      transitionsTotal: this.#transitionsTotal,
      advertsDropped: { ...this.#stats.dropped },
    };
  }

  /** Packets sent, received and dropped by reason (a wrong key counts as `auth`). */
  stats(): VipStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped } };
  }

  #healthy(): boolean {
    try {
      return this.#o.health.healthy();
    } catch (error) {
      this.#o.logger.warn({ err: (error as Error).message }, 'vip health check threw; treating as unhealthy');
      return false;
    }
  }

  #receive(packet: Buffer, sourceAddress: string): void {
    if (!this.#socket) return;
    const decoded = decodeAdvert(packet, this.#key);
    if (!decoded.ok) return this.#drop(decoded.reason, sourceAddress);
    const { advert } = decoded;
    if (advert.virtualRouterId !== this.#o.vip.virtualRouterId) return this.#drop('router-id', sourceAddress);
    const peer = this.#config.peers.find((p) => p.name === advert.sender);
    if (!peer || peer.name === this.#config.self.name) return this.#drop('unknown-peer', sourceAddress);
    if (!sameAddress(sourceAddress, peer.address)) return this.#drop('source', sourceAddress);
    if (!this.#guard.accept(peer.name, advert.sequence)) return this.#drop('replay', sourceAddress);
    this.#stats.received++;
    this.#feed({ type: 'advert', now: Date.now(), from: { name: peer.name, address: peer.address, priority: advert.priority, advertIntervalMs: advert.advertIntervalMs } });
  }

  #drop(reason: DropReason, source: string): void {
    this.#stats.dropped[reason]++;
    const now = Date.now();
    const last = this.#dropLoggedAt.get(reason);
    if (last !== undefined && now - last < DROP_LOG_EVERY_MS) return;
    this.#dropLoggedAt.set(reason, now);
    this.#o.logger.warn({ reason, source, dropped: this.#stats.dropped[reason] }, 'vip advertisement dropped');
  }

  #feed(event: ElectionEvent): void {
    const result = step(this.#config, this.#state, event);
    this.#state = result.state;
    if (result.transition) {
      const record: VipTransition = { at: event.now, ...result.transition };
      this.#transitions.push(record);
      this.#transitionsTotal++;
      if (this.#transitions.length > KEEP_TRANSITIONS) this.#transitions.shift();
      this.#o.logger.info({ vip: this.#o.vip.address, self: this.#config.self.name, from: record.from, to: record.to, reason: record.reason, holder: this.#state.holder, ...(this.#tickLateMs !== undefined ? { timerLateMs: this.#tickLateMs } : {}) }, 'vip transition');
    }
    for (const action of result.actions) this.#perform(action);
    if (this.#handoverDone && !this.#state.handover) {
      this.#handoverDone();
      this.#handoverDone = undefined;
      return;
    }
    this.#schedule();
  }

  #perform(action: ElectionAction): void {
    if (action.type === 'send-advert') return this.#advertise(action.priority);
    // Address operations run one at a time in order, so a quick master → backup → master cannot interleave.
    const operation = action.type;
    this.#addressOps = this.#addressOps.then(async () => {
      try {
        const changed = await (operation === 'acquire' ? this.#announcer.acquire() : this.#announcer.release());
        if (changed) this.#o.logger.info({ vip: this.#o.vip.address, interface: this.#o.vip.interface }, operation === 'acquire' ? 'vip added' : 'vip removed');
      } catch (error) {
        this.#o.logger.error({ vip: this.#o.vip.address, err: (error as Error).message }, `vip ${operation} failed`);
      }
    });
  }

  #advertise(priority: number): void {
    const socket = this.#socket;
    if (!socket) return;
    const packet = encodeAdvert({
      virtualRouterId: this.#o.vip.virtualRouterId,
      priority,
      advertIntervalMs: this.#o.vip.advertIntervalMs,
      sequence: this.#sequence.next(),
      sender: this.#config.self.name,
    }, this.#key);
    for (const peer of this.#config.peers) {
      if (peer.name === this.#config.self.name) continue;
      this.#stats.sent++;
      const sent = new Promise<void>((resolve) => socket.send(packet, this.#port, peer.address, (error) => {
        if (error) this.#o.logger.debug({ peer: peer.name, err: error.message }, 'vip advertisement not sent');
        resolve();
      }));
      this.#sending.add(sent);
      void sent.then(() => this.#sending.delete(sent));
    }
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#socket) return;
    const deadline = nextDeadline(this.#config, this.#state);
    if (deadline === undefined) return;
    this.#timer = setTimeout(() => {
      const now = Date.now();
      this.#tickLateMs = Math.max(0, Math.round(now - deadline));
      this.#feed({ type: 'tick', now });
      this.#tickLateMs = undefined;
    }, Math.max(0, deadline - Date.now()));
  }
}

/** The peer this host is: by --peer NAME, else the one peer whose address is on a local interface. */
export function selectSelf(vip: Vip, explicit?: string): Peer {
  const names = vip.peers.map((p) => p.name).join(', ');
  if (explicit !== undefined) {
    const peer = vip.peers.find((p) => p.name === explicit);
    if (!peer) throw new UserError('VIP', `--peer ${explicit} is not one of vip.peers`, { hint: names ? `use one of: ${names}` : 'add this host to vip.peers' });
    return peer;
  }
  // Configured addresses whatever the carrier: serve may start while this host's link is still coming up.
  const local = new Set(localAddresses().map((a) => normalizeAddress(a.address)));
  const matches = vip.peers.filter((p) => local.has(normalizeAddress(p.address)));
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) throw new UserError('VIP', 'no vip.peers address is on this host', { hint: `pass --peer NAME (one of: ${names || 'none'}) or run serve on an LB host listed in vip.peers` });
  throw new UserError('VIP', `several vip.peers addresses are on this host (${matches.map((p) => p.name).join(', ')})`, { hint: 'pass --peer NAME to choose one' });
}

/** iproute2 and arping on Linux, in memory elsewhere (gratuitousOnly: see IpAddrAnnouncerOptions). */
export function defaultAnnouncer(vip: Vip, self: Peer, logger: Logger, options: { gratuitousOnly?: boolean } = {}): Announcer {
  if (process.platform !== 'linux') {
    logger.warn({ vip: vip.address, platform: process.platform }, 'VIP address operations are implemented for Linux only; the VIP is held in memory');
    return new NopAnnouncer();
  }
  return new IpAddrAnnouncer({
    address: vip.address, prefixLength: vip.prefixLength, interface: vip.interface, family: vip.family, logger,
    nudgeTargets: vip.peers.filter((p) => p.name !== self.name).map((p) => p.address), gratuitousOnly: options.gratuitousOnly ?? false,
  });
}

/** Text form of an address that compares equal for every spelling ("::ffff:10.0.0.1" = "10.0.0.1", "fe80::1%eth0" = "fe80::1"). */
function normalizeAddress(address: string): string {
  const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '').replace(/%.*$/, '');
  return isIP(plain) ? addressBytes(plain).join('.') : plain.toLowerCase();
}

function sameAddress(a: string, b: string): boolean {
  return normalizeAddress(a) === normalizeAddress(b);
}
