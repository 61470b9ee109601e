// Assembles the one snapshot that the status page, /api/status and /metrics format, from the parts of
// the running balancer: the spec in effect, the registry's members, the data plane's counters, the
// process's resources, and what announces the endpoint (VIP, BGP).
import type { MemberCounters } from '../dataplane/types.js';
import type { ListenerCounters } from '../lb/backend.js';
import type { Member } from '../membership/member.js';
import type { Spec } from '../spec/types.js';
import { VERSION } from '../version.js';
import type { ListenerSnapshot, ReloadRecord, ResourcesSnapshot, ServerSnapshot, StatusSnapshot } from './snapshot.js';

export interface SnapshotParts {
  spec: Spec;
  startedAt: number;
  loadedAt: number;
  lastReload?: ReloadRecord;
  reloads: { ok: number; failed: number };
  /** Current members of a listener, then the removed ones still draining. */
  members(listener: string): Member[];
  counters(listener: string): ListenerCounters | undefined;
  /** The data plane's counters of a member. */
  memberCounters(member: Member): MemberCounters;
  dataPlane: StatusSnapshot['dataPlane'];
  resources: ResourcesSnapshot;
  /** Each announcer's part (`vip`, `bgp`). */
  announcers: ReadonlyArray<Partial<StatusSnapshot>>;
}

const NO_COUNTERS: ListenerCounters = { activeConnections: 0, totalConnections: 0, failedConnections: 0, localErrors: 0, bytesIn: 0, bytesOut: 0 };

export function assembleSnapshot(parts: SnapshotParts, now = Date.now()): StatusSnapshot {
  const { spec } = parts;
  const listeners: ListenerSnapshot[] = [];
  for (const listener of spec.listeners) {
    const counters = parts.counters(listener.name);
    if (!counters) continue;
    listeners.push({
      name: listener.name,
      bind: spec.balancer.bind,
      port: listener.port,
      targetPort: listener.targetPort,
      balance: listener.balance,
      checkType: listener.healthCheck.type,
      ...NO_COUNTERS,
      ...counters,
      servers: parts.members(listener.name).map((m) => serverSnapshot(m, parts.memberCounters(m), now)),
    });
  }
  return {
    version: VERSION,
    pid: process.pid,
    startedAt: parts.startedAt,
    now,
    spec: { source: spec.source, cluster: spec.cluster.name, endpoint: spec.endpoint, loadedAt: parts.loadedAt },
    ...(parts.lastReload ? { lastReload: parts.lastReload } : {}),
    reloads: { ...parts.reloads },
    dataPlane: parts.dataPlane,
    listeners,
    resources: parts.resources,
    ...Object.assign({}, ...parts.announcers),
  };
}

/** One server's line: who it is and its health (the member's), its flows (the data plane's). */
export function serverSnapshot(member: Member, counters: MemberCounters, now = Date.now()): ServerSnapshot {
  const health = member.health();
  return {
    name: member.name,
    address: member.address,
    port: member.port,
    state: health.state,
    adminState: health.adminState,
    stateSince: health.stateSince,
    stateReason: health.stateReason,
    weight: health.weight,
    activeConnections: counters.activeConnections,
    totalConnections: counters.totalConnections,
    connectFailures: counters.connectFailures,
    redispatches: counters.redispatches,
    bytesIn: counters.bytesIn,
    bytesOut: counters.bytesOut,
    checksFailed: health.checksFailed,
    downTransitions: health.downTransitions,
    downtimeMs: health.downtimeMs,
    firstByteTimeouts: counters.firstByteTimeouts,
    ...(counters.ejectedUntil !== undefined && counters.ejectedUntil > now ? { ejectedUntil: counters.ejectedUntil } : {}),
    ...(health.lastCheck ? { lastCheck: health.lastCheck } : {}),
    ...(health.drainDeadline !== undefined ? { drainDeadline: health.drainDeadline } : {}),
    ...(health.removed ? { removed: true } : {}),
  };
}
