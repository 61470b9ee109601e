// Turns balancer snapshots into the lines the demo prints: state changes between two snapshots and a
// status table. Pure.
import type { StatusSnapshot } from '../runtime/snapshot.js';
import { joinHostPort } from '../spec/address.js';

interface ServerView {
  state: string;
  adminState: string;
  reason: string;
}

function views(snapshot: StatusSnapshot | undefined): Map<string, ServerView> {
  const map = new Map<string, ServerView>();
  for (const listener of snapshot?.listeners ?? []) {
    for (const server of listener.servers) {
      map.set(`${server.name} ${listener.name}`, { state: server.state, adminState: server.adminState, reason: server.stateReason });
    }
  }
  return map;
}

/** `cp-02 kubernetes: up → down (connect ECONNREFUSED, 2/2 failures)` for every server whose state changed, and reloads. */
export function describeChanges(previous: StatusSnapshot | undefined, next: StatusSnapshot): string[] {
  const before = views(previous);
  const lines: string[] = [];
  for (const [key, now] of views(next)) {
    const then = before.get(key);
    const from = then?.state ?? 'checking';
    if (now.state !== from) lines.push(`${key}: ${from} → ${now.state}${now.reason ? ` (${now.reason})` : ''}`);
    if (then && now.adminState !== then.adminState) lines.push(`${key}: ${then.adminState} → ${now.adminState} (operator)`);
  }
  const reload = next.lastReload;
  if (reload && reload.at !== previous?.lastReload?.at) {
    lines.push(reload.ok ? `spec ${reload.message}` : `reload failed: ${[reload.message, ...(reload.problems ?? [])].join('\n  ')}`);
  }
  return lines;
}

/** Servers of `listener` that are up and ready, out of all. */
export function countUp(snapshot: StatusSnapshot, listener: string): { up: number; total: number } {
  const servers = snapshot.listeners.find((l) => l.name === listener)?.servers ?? [];
  return { up: servers.filter((s) => s.state === 'up' && s.adminState === 'ready').length, total: servers.length };
}

export function formatStatus(snapshot: StatusSnapshot, nodeRunning: (name: string) => boolean | undefined): string {
  const rows: string[][] = [['listener', 'server', 'node', 'check', 'admin', 'conns', 'total', 'last check']];
  for (const listener of snapshot.listeners) {
    for (const server of listener.servers) {
      const running = nodeRunning(server.name);
      rows.push([
        `${listener.name} :${listener.port}`,
        `${server.name} ${joinHostPort(server.address, server.port)}`,
        running === undefined ? '-' : running ? 'running' : 'stopped',
        server.state,
        server.adminState,
        String(server.activeConnections),
        String(server.totalConnections),
        server.lastCheck ? `${server.lastCheck.ok ? 'ok' : 'failed'}: ${server.lastCheck.reason}` : '-',
      ]);
    }
  }
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]))).join('  ').trimEnd()).join('\n');
}
