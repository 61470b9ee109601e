// The election as a pure state machine: (config, state, event) → state + actions. No sockets, no timers:
// the manager feeds events in, performs the actions and wakes up at nextDeadline(state).
// Semantics follow VRRPv3 (RFC 5798 section 6.4), carried over unicast UDP (see docs/vip.md).
import type { VipRole } from '../../runtime/snapshot.js';
import { compareAddresses } from './address-order.js';

export interface ElectionPeer {
  name: string;
  address: string;
  priority: number;
}

export interface ElectionConfig {
  self: ElectionPeer;
  /** Every peer sharing the VIP, self included. */
  peers: ElectionPeer[];
  advertIntervalMs: number;
  preempt: boolean;
  /** How long a faulty peer must be healthy again before it competes (no flapping). */
  holdDownMs: number;
  /** Planned stop: how long the old master keeps the VIP after a peer took over, while neighbours switch. */
  handoverGraceMs: number;
}

export interface ElectionState {
  role: VipRole;
  holder?: string;
  /** The priority the holder last advertised. */
  holderPriority?: number;
  /** The master's advertisement interval as learned from its packets (VRRPv3 Master_Adver_Interval). */
  masterAdvertIntervalMs: number;
  /** Master: when the next advertisement is due. */
  nextAdvertAt?: number;
  /** Backup: when the master is declared down. */
  masterDownAt?: number;
  /** Backup and fault: when the last heard holder is forgotten. */
  holderExpiresAt?: number;
  healthy: boolean;
  /** Fault: since when the peer has been healthy again. */
  healthySince?: number;
  /**
   * Planned stop of the master (make before break): the VIP stays until a peer has taken over and neighbours had
   * `handoverGraceMs` to follow its gratuitous ARP, or until nobody took over within 3 intervals.
   */
  handover?: { releaseAt: number; takenOver: boolean };
}

export interface AdvertFrom {
  name: string;
  address: string;
  priority: number;
  advertIntervalMs: number;
}

export type ElectionEvent =
  | { type: 'start'; now: number; healthy: boolean }
  | { type: 'advert'; now: number; from: AdvertFrom }
  | { type: 'tick'; now: number }
  | { type: 'health'; now: number; healthy: boolean }
  | { type: 'stop'; now: number };

export type ElectionAction =
  | { type: 'send-advert'; priority: number }
  | { type: 'acquire' }
  | { type: 'release' };

export interface RoleChange {
  from: VipRole;
  to: VipRole;
  reason: string;
}

export interface Step {
  state: ElectionState;
  actions: ElectionAction[];
  transition?: RoleChange;
}

export function initialState(config: ElectionConfig): ElectionState {
  return { role: 'init', masterAdvertIntervalMs: config.advertIntervalMs, healthy: false };
}

/** Skew_Time = ((256 − priority) × interval) / 256: lower priorities wait longer, so the highest backup wins. */
export function skewMs(priority: number, advertIntervalMs: number): number {
  return ((256 - priority) * advertIntervalMs) / 256;
}

/** Master_Down_Interval = 3 × interval + skew. */
export function masterDownIntervalMs(priority: number, advertIntervalMs: number): number {
  return 3 * advertIntervalMs + skewMs(priority, advertIntervalMs);
}

/** The earliest time the machine needs a tick, if any. */
export function nextDeadline(config: ElectionConfig, state: ElectionState): number | undefined {
  const times = [state.nextAdvertAt, state.masterDownAt, state.holderExpiresAt, state.handover?.releaseAt];
  if (state.role === 'fault' && state.healthy && state.healthySince !== undefined) times.push(state.healthySince + config.holdDownMs);
  const defined = times.filter((t): t is number => t !== undefined);
  return defined.length ? Math.min(...defined) : undefined;
}

export function step(config: ElectionConfig, state: ElectionState, event: ElectionEvent): Step {
  switch (event.type) {
    case 'start': return onStart(config, state, event.now, event.healthy);
    case 'advert': return onAdvert(config, state, event.now, event.from);
    case 'tick': return onTick(config, state, event.now);
    case 'health': return onHealth(config, state, event.now, event.healthy);
    case 'stop': return onStop(config, state, event.now);
  }
}

function onStart(config: ElectionConfig, state: ElectionState, now: number, healthy: boolean): Step {
  if (state.role !== 'init') return { state, actions: [] };
  // A crashed predecessor may have left the VIP on the interface: release is idempotent.
  if (!healthy) return toFault({ ...state, healthy }, 'unhealthy at start', [{ type: 'release' }]);
  return toBackup(config, { ...state, healthy }, now, 'started', [{ type: 'release' }]);
}

function onAdvert(config: ElectionConfig, state: ElectionState, now: number, from: AdvertFrom): Step {
  if (from.name === config.self.name) return { state, actions: [] };
  const heard = learn(config, state, now, from);
  switch (state.role) {
    case 'init': {
      if (!state.handover || state.handover.takenOver || from.priority === 0) return { state: state.handover ? heard : state, actions: [] };
      return { state: { ...heard, handover: { releaseAt: now + config.handoverGraceMs, takenOver: true } }, actions: [] };
    }
    case 'fault': return { state: heard, actions: [] };
    case 'backup': {
      if (from.priority === 0) {
        // The master is leaving on purpose. The highest remaining peer takes over at once; others wait their skew
        // so that peer wins when it is alive.
        const outranked = config.peers.some((p) => p.name !== from.name && p.name !== config.self.name && p.priority > config.self.priority);
        const wait = outranked ? skewMs(config.self.priority, state.masterAdvertIntervalMs) : 0;
        return { state: { ...heard, holder: undefined, holderPriority: undefined, holderExpiresAt: undefined, masterDownAt: now + wait }, actions: [] };
      }
      if (!config.preempt || from.priority >= config.self.priority) {
        return { state: { ...heard, masterDownAt: now + masterDownIntervalMs(config.self.priority, heard.masterAdvertIntervalMs) }, actions: [] };
      }
      // Preempt: a lower-priority master is ignored, so our master-down timer runs out and we take over.
      return { state: { ...heard, masterDownAt: state.masterDownAt }, actions: [] };
    }
    case 'master': {
      if (from.priority === 0) {
        // Someone released the VIP: assert ourselves at once so nobody else waits for a timer.
        return { state: { ...state, nextAdvertAt: now + config.advertIntervalMs }, actions: [{ type: 'send-advert', priority: config.self.priority }] };
      }
      const outranks = from.priority > config.self.priority
        || (from.priority === config.self.priority && compareAddresses(from.address, config.self.address) > 0);
      if (!outranks) return { state, actions: [] };
      const reason = from.priority > config.self.priority
        ? `${from.name} advertises higher priority ${from.priority} > ${config.self.priority}`
        : `${from.name} advertises equal priority ${from.priority} and a higher address`;
      const next = { ...heard, nextAdvertAt: undefined };
      return toBackup(config, next, now, reason, [{ type: 'release' }], from);
    }
  }
}

function onTick(config: ElectionConfig, state: ElectionState, now: number): Step {
  let next = state;
  if (next.handover && now >= next.handover.releaseAt) {
    return { state: { ...next, handover: undefined }, actions: [{ type: 'release' }] };
  }
  if (next.holderExpiresAt !== undefined && now >= next.holderExpiresAt && next.role !== 'master') {
    next = { ...next, holder: undefined, holderPriority: undefined, holderExpiresAt: undefined };
  }
  if (next.role === 'master' && next.nextAdvertAt !== undefined && now >= next.nextAdvertAt) {
    // Schedule from the due time, not from now, so a late timer does not drift the cadence.
    const due = next.nextAdvertAt + config.advertIntervalMs;
    return { state: { ...next, nextAdvertAt: due > now ? due : now + config.advertIntervalMs }, actions: [{ type: 'send-advert', priority: config.self.priority }] };
  }
  if (next.role === 'backup' && next.masterDownAt !== undefined && now >= next.masterDownAt) {
    const reason = !next.holder ? 'no master advertised'
      : next.holderPriority !== undefined && config.preempt && next.holderPriority < config.self.priority ? `preempting ${next.holder} (priority ${next.holderPriority} < ${config.self.priority})`
        : `no advertisement from ${next.holder} for the master-down interval`;
    return toMaster(config, next, now, reason);
  }
  if (next.role === 'fault' && next.healthy && next.healthySince !== undefined && now >= next.healthySince + config.holdDownMs) {
    return toBackup(config, { ...next, healthySince: undefined }, now, `healthy again for ${config.holdDownMs} ms`, []);
  }
  return { state: next, actions: [] };
}

function onHealth(_config: ElectionConfig, state: ElectionState, now: number, healthy: boolean): Step {
  if (state.role === 'init') return { state: { ...state, healthy }, actions: [] };
  if (healthy === state.healthy) return { state, actions: [] };
  if (!healthy) {
    const actions: ElectionAction[] = state.role === 'master' ? [{ type: 'send-advert', priority: 0 }, { type: 'release' }] : [];
    return toFault({ ...state, healthy: false, healthySince: undefined }, 'balancer unhealthy (a listener is down or the kubernetes listener has no server up)', actions);
  }
  // Healthy again: wait out the hold-down in fault before competing.
  return { state: { ...state, healthy: true, healthySince: now }, actions: [] };
}

/**
 * A planned stop. The master tells its peers (priority 0) and keeps the VIP until one of them has taken over (see
 * `handover`), so clients are never sent to a host without the address; other roles release at once.
 */
function onStop(config: ElectionConfig, state: ElectionState, now: number): Step {
  if (state.role === 'init') return { state, actions: [] };
  const next: ElectionState = { ...state, role: 'init', holder: state.role === 'master' ? undefined : state.holder, nextAdvertAt: undefined, masterDownAt: undefined, holderExpiresAt: undefined, healthySince: undefined };
  const transition: RoleChange = { from: state.role, to: 'init', reason: 'planned stop' };
  if (state.role !== 'master') return { state: next, actions: [{ type: 'release' }], transition };
  next.handover = { releaseAt: now + 3 * config.advertIntervalMs, takenOver: false };
  return { state: next, actions: [{ type: 'send-advert', priority: 0 }], transition };
}

/** Records who is advertising as master; adverts with priority 0 are not a holder. */
function learn(config: ElectionConfig, state: ElectionState, now: number, from: AdvertFrom): ElectionState {
  if (from.priority === 0) return state.holder === from.name ? { ...state, holder: undefined, holderPriority: undefined, holderExpiresAt: undefined } : state;
  const masterAdvertIntervalMs = from.advertIntervalMs > 0 ? from.advertIntervalMs : state.masterAdvertIntervalMs;
  return { ...state, holder: from.name, holderPriority: from.priority, masterAdvertIntervalMs, holderExpiresAt: now + masterDownIntervalMs(config.self.priority, masterAdvertIntervalMs) };
}

function toMaster(config: ElectionConfig, state: ElectionState, now: number, reason: string): Step {
  const next: ElectionState = { ...state, role: 'master', holder: config.self.name, holderPriority: config.self.priority, masterDownAt: undefined, holderExpiresAt: undefined, nextAdvertAt: now + config.advertIntervalMs };
  // Advertise before touching the address: peers stand down while the address is being added.
  return { state: next, actions: [{ type: 'send-advert', priority: config.self.priority }, { type: 'acquire' }], transition: { from: state.role, to: 'master', reason } };
}

function toBackup(config: ElectionConfig, state: ElectionState, now: number, reason: string, actions: ElectionAction[], from?: AdvertFrom): Step {
  const interval = from ? state.masterAdvertIntervalMs : config.advertIntervalMs;
  const next: ElectionState = { ...state, role: 'backup', nextAdvertAt: undefined, masterDownAt: now + masterDownIntervalMs(config.self.priority, interval) };
  if (state.role === 'master' && !from) { next.holder = undefined; next.holderPriority = undefined; }
  return { state: next, actions, transition: { from: state.role, to: 'backup', reason } };
}

function toFault(state: ElectionState, reason: string, actions: ElectionAction[]): Step {
  const next: ElectionState = { ...state, role: 'fault', nextAdvertAt: undefined, masterDownAt: undefined };
  if (state.role === 'master') { next.holder = undefined; next.holderPriority = undefined; }
  return { state: next, actions, transition: { from: state.role, to: 'fault', reason } };
}
