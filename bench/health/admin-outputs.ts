// How long the admin outputs take for a snapshot of N servers, formatted in this process (no HTTP):
//   node dist/bench/health/admin-outputs.js [SERVERS] [LISTENERS]
import { createAdminMetrics } from '../../src/runtime/admin/metrics.js';
import { renderStatusBody, renderStatusPage } from '../../src/runtime/admin/status-page.js';
import type { ServerSnapshot, StatusSnapshot } from '../../src/runtime/snapshot.js';

export function largeSnapshot(servers: number, listeners: number): StatusSnapshot {
  const now = Date.now();
  const server = (i: number): ServerSnapshot => ({
    name: `n${String(i + 1).padStart(4, '0')}`, address: `127.10.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: 6443,
    state: i % 50 === 0 ? 'down' : 'up', adminState: i % 97 === 0 ? 'drain' : 'ready', stateSince: now - 60_000, stateReason: 'connect ok, first check',
    weight: 1, activeConnections: i % 7, totalConnections: 1000 + i, connectFailures: i % 3, redispatches: i % 5, bytesIn: 123_456 * i, bytesOut: 654_321 * i,
    checksFailed: i % 11, downTransitions: i % 2, downtimeMs: 1000 * (i % 13), firstByteTimeouts: 0,
    lastCheck: { ok: i % 50 !== 0, reason: i % 50 === 0 ? 'connect ECONNREFUSED' : 'connect ok', latencyMs: 0.4, at: now - 500 },
  });
  return {
    version: '0.1.0', pid: 1, startedAt: now - 3_600_000, now,
    spec: { source: 'endpoint.yaml', cluster: 'bench', endpoint: '127.0.0.1', loadedAt: now - 600_000 },
    reloads: { ok: 0, failed: 0 },
    listeners: Array.from({ length: listeners }, (_, l) => ({
      name: `listener-${l}`, bind: '127.0.0.1', port: 6443 + l, targetPort: 6443, balance: 'roundrobin', checkType: 'tcp',
      activeConnections: 10, totalConnections: 1000, failedConnections: 0, localErrors: 0, bytesIn: 1, bytesOut: 2,
      servers: Array.from({ length: servers }, (_, i) => server(i)),
    })),
    resources: { exhausted: {} },
  };
}

async function main(): Promise<void> {
  const servers = Number(process.argv[2] ?? 1000);
  const listeners = Number(process.argv[3] ?? 1);
  const snapshot = largeSnapshot(servers, listeners);
  const metrics = createAdminMetrics({ processMetrics: true });
  const time = async (label: string, fn: () => Promise<string> | string) => {
    const ms: number[] = [];
    let size = 0;
    for (let i = 0; i < 8; i++) { const t = performance.now(); size = (await fn()).length; ms.push(performance.now() - t); }
    ms.sort((a, b) => a - b);
    process.stdout.write(`${label.padEnd(12)} ${ms[4].toFixed(1)} ms ${(size / 1024).toFixed(0)} KiB\n`);
  };
  await time('/metrics', () => metrics.scrape(snapshot));
  await time('/api/status', () => `${JSON.stringify(snapshot, null, 2)}\n`);
  await time('/', () => renderStatusPage(snapshot));
  await time('fragment', () => renderStatusBody(snapshot));
}

if (process.argv[1]?.endsWith('admin-outputs.js')) void main();
