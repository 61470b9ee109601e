// Assembles the one snapshot that the status page, /api/status and /metrics format, from the parts of
// the running balancer: the spec in effect, the registry's servers, the data plane's listener counters,
// the process's resources, and what announces the endpoint (VIP, BGP).
import type { ListenerCounters } from '../lb/backend.js';
import type { Server } from '../lb/server.js';
import type { Spec } from '../spec/types.js';
import { VERSION } from '../version.js';
import type { ListenerSnapshot, ReloadRecord, ResourcesSnapshot, StatusSnapshot } from './snapshot.js';

export interface SnapshotParts {
  spec: Spec;
  startedAt: number;
  loadedAt: number;
  lastReload?: ReloadRecord;
  reloads: { ok: number; failed: number };
  /** Current servers of a listener, then the removed ones still draining. */
  servers(listener: string): Server[];
  counters(listener: string): ListenerCounters | undefined;
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
      servers: parts.servers(listener.name).map((s) => s.snapshot()),
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
