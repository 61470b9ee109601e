// What a soak must show (issue 9): each broken bound is one line; none means the soak passed.
import type { SoakReport } from './soak.js';

/** Growth allowed between the quiet moment before the chaos and the one after it. */
export const SOAK_BOUNDS = { descriptors: 8, handles: 8, rssMiB: 64 } as const;

export function soakProblems(r: SoakReport): string[] {
  const problems: string[] = [];
  if (r.crashed) problems.push(`serve crashed or did not stop cleanly (exit ${r.exitCode})`);
  if (r.errorLines.length) problems.push(`${r.errorLines.length} unexpected error line(s) in serve's log`);
  const failed = r.failures.filter((f) => !f.explainedBy);
  if (failed.length) problems.push(`${failed.length} new connection(s) failed while servers were healthy: ${failed.slice(0, 3).map((f) => f.reason).join('; ')}`);
  const lost = r.losses.filter((l) => !l.explainedBy);
  if (lost.length) problems.push(`${lost.length} established connection(s) lost with no killed, frozen, drained or down server to explain it: ${lost.slice(0, 3).map((l) => `${l.server} ${l.reason}`).join('; ')}`);
  if (r.integrityErrors.length) problems.push(`${r.integrityErrors.length} integrity error(s): ${r.integrityErrors.slice(0, 3).join('; ')}`);
  if (r.shortOk === 0 || r.bulkOk === 0) problems.push('the load did not run (no short exchange or no bulk transfer completed)');
  if (r.final.descriptors > r.baseline.descriptors + SOAK_BOUNDS.descriptors) problems.push(`descriptors grew from ${r.baseline.descriptors} to ${r.final.descriptors}`);
  if (r.final.handles > r.baseline.handles + SOAK_BOUNDS.handles) problems.push(`libuv handles grew from ${r.baseline.handles} to ${r.final.handles}`);
  if (r.final.rssKiB > r.baseline.rssKiB + SOAK_BOUNDS.rssMiB * 1024) problems.push(`RSS grew from ${(r.baseline.rssKiB / 1024).toFixed(1)} to ${(r.final.rssKiB / 1024).toFixed(1)} MiB`);
  const c = r.counters;
  if (c.statusConnections !== c.clientConnections) problems.push(`/api/status counts ${c.statusConnections} connections, the clients made ${c.clientConnections}`);
  if (c.failedConnections !== 0) problems.push(`/api/status counts ${c.failedConnections} connection(s) that found no server`);
  // Bytes: what the balancer read from the clients is at most what they wrote, and everything the clients read
  // came through it; a cut connection can leave bytes in flight on either side, at most a socket buffer each.
  const slack = (r.losses.length + 1) * 8 * 1024 * 1024;
  if (c.statusBytesIn > c.clientBytesWritten || c.clientBytesWritten - c.statusBytesIn > slack) problems.push(`bytes in: ${c.statusBytesIn} on /api/status, ${c.clientBytesWritten} written by the clients`);
  if (c.statusBytesOut < c.clientBytesRead || c.statusBytesOut - c.clientBytesRead > slack) problems.push(`bytes out: ${c.statusBytesOut} on /api/status, ${c.clientBytesRead} read by the clients`);
  const applied = r.reloads.filter((x) => x.kind.startsWith('valid')).every((x) => x.outcome === 'applied');
  const refused = r.reloads.filter((x) => !x.kind.startsWith('valid')).every((x) => x.outcome !== 'applied' && !x.outcome.startsWith('no reload'));
  if (!applied || !refused) problems.push(`reloads: ${r.reloads.map((x) => `${x.kind} → ${x.outcome}`).join('; ')}`);
  if (r.exhaustion && Object.values(r.exhaustion.exhaustedCodes).reduce((a, b) => a + b, 0) === 0) problems.push('the descriptors ran out but /api/status counted no exhaustion');
  return problems;
}
