// A snapshot and a backend double for admin-surface tests. The backend keeps a mutable snapshot and
// applies admin-state changes to it the way the daemon does (same errors), so tests can watch a
// change go through the HTTP API and come back in /api/status, the page and /metrics.
import { UserError } from '../../../src/errors.js';
import type { AdminState } from '../../../src/health/types.js';
import { ADMIN_LIMITS, startAdminServer, type AdminBackend, type AdminLimits, type AdminServer } from '../../../src/runtime/admin/server.js';
import type { ServerSnapshot, StatusSnapshot } from '../../../src/runtime/snapshot.js';
import { silentLogger } from '../../../src/log.js';

export const NOW = Date.parse('2026-11-24T01:00:00Z');

export function server(name: string, address: string, port: number, extra: Partial<ServerSnapshot> = {}): ServerSnapshot {
  return {
    name, address, port,
    state: 'up', adminState: 'ready',
    stateSince: NOW - 65_000, stateReason: 'tcp connect ok, 2/2 successes',
    weight: 1,
    activeConnections: 0, totalConnections: 0, connectFailures: 0, redispatches: 0,
    bytesIn: 0, bytesOut: 0, checksFailed: 0, downTransitions: 0,
    lastCheck: { ok: true, reason: 'tcp connect', latencyMs: 1.25, at: NOW - 2000 },
    ...extra,
  };
}

export function sampleSnapshot(): StatusSnapshot {
  return {
    version: '0.1.0',
    pid: 4242,
    startedAt: NOW - 3_600_000,
    now: NOW,
    spec: { source: 'endpoint.yaml', cluster: 'rciis', endpoint: '127.0.0.10', loadedAt: NOW - 600_000 },
    listeners: [
      {
        name: 'kubernetes', bind: '127.0.0.10', port: 6443, targetPort: 6443, balance: 'roundrobin', checkType: 'tcp',
        activeConnections: 5, totalConnections: 120, failedConnections: 2, bytesIn: 4096, bytesOut: 1_048_576,
        servers: [
          server('cp-01', '127.0.0.11', 6443, { activeConnections: 3, totalConnections: 70, bytesIn: 3000, bytesOut: 700_000, weight: 2 }),
          server('cp-02', '127.0.0.12', 6443, {
            state: 'down', stateSince: NOW - 30_000, stateReason: 'connect ECONNREFUSED, 2/2 failures',
            activeConnections: 0, totalConnections: 48, connectFailures: 4, redispatches: 3, checksFailed: 9, downTransitions: 1, downtimeMs: 30_000,
            lastCheck: { ok: false, reason: 'connect ECONNREFUSED', latencyMs: 0.4, at: NOW - 1000 },
          }),
          server('cp-03', '127.0.0.13', 6443, { adminState: 'drain', activeConnections: 2, totalConnections: 2, drainDeadline: NOW + 20_000 }),
        ],
      },
      {
        name: 'talos', bind: '127.0.0.10', port: 50000, targetPort: 50000, balance: 'leastconn', checkType: 'tls',
        activeConnections: 0, totalConnections: 0, failedConnections: 0, bytesIn: 0, bytesOut: 0,
        servers: [
          server('cp-01', '127.0.0.11', 50000),
          server('cp-02', '127.0.0.12', 50000, { state: 'checking', stateReason: 'starting', lastCheck: undefined }),
          server('cp-03', '127.0.0.13', 50000, { adminState: 'maint' }),
        ],
      },
    ],
  };
}

export interface FakeBackend extends AdminBackend {
  /** The snapshot the next request sees; tests edit it in place. */
  current: StatusSnapshot;
  calls: Array<{ target: { server: string; listener?: string }; state: AdminState }>;
}

export function fakeBackend(initial: StatusSnapshot = sampleSnapshot()): FakeBackend {
  const backend: FakeBackend = {
    current: initial,
    calls: [],
    snapshot: () => structuredClone(backend.current),
    setAdminState(target, state) {
      backend.calls.push({ target, state });
      let changed = 0;
      for (const listener of backend.current.listeners) {
        if (target.listener !== undefined && listener.name !== target.listener) continue;
        for (const s of listener.servers) {
          if (s.name !== target.server) continue;
          s.adminState = state;
          changed++;
        }
      }
      if (changed === 0) throw new UserError('ADMIN_NOT_FOUND', `no server named ${target.server}${target.listener ? ` on listener ${target.listener}` : ''}`);
      return changed;
    },
  };
  return backend;
}

/** An admin server on 127.0.0.1 with a free port; closed by the test's after hook. */
export async function startTestAdmin(t: { after(fn: () => Promise<void> | void): void }, options: { token?: string; backend?: FakeBackend; limits?: Partial<AdminLimits> } = {}): Promise<{ admin: AdminServer; backend: FakeBackend }> {
  const backend = options.backend ?? fakeBackend();
  const admin = await startAdminServer({ host: '127.0.0.1', port: 0, token: options.token, backend, logger: silentLogger, limits: { ...ADMIN_LIMITS, ...options.limits } });
  t.after(() => admin.close());
  return { admin, backend };
}

/** A snapshot of `count` servers on each of `listeners` listeners (the size the admin surface must bear). */
export function largeSnapshot(count: number, listeners = 1): StatusSnapshot {
  const base = sampleSnapshot();
  return {
    ...base,
    listeners: Array.from({ length: listeners }, (_, l) => ({
      ...base.listeners[0], name: `listener-${l}`, port: 6443 + l,
      servers: Array.from({ length: count }, (_, i) => server(`n${String(i).padStart(4, '0')}`, `127.10.${i >> 8}.${i & 255}`, 6443, { totalConnections: i, bytesOut: i * 1000 })),
    })),
  };
}
