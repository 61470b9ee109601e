// The probe table: one line per target and listener.
import { joinHostPort } from '../spec/address.js';
import type { ProbeRow } from './run.js';
import type { Verdict } from './verdict.js';

const HEADERS = ['TARGET', 'ADDRESS', 'LISTENER', 'TCP', 'TLS', 'SUBJECT', 'SAN', 'EXPIRES', 'CHECK'] as const;

export function formatTable(rows: ProbeRow[]): string {
  const lines = rows.map((row) => [
    row.name,
    joinHostPort(row.address, row.port),
    row.listener,
    row.tcp.ok ? `${row.tcp.ms}ms` : `FAIL ${row.tcp.error}`,
    row.tls ? (row.tls.ok ? row.tls.protocol ?? 'ok' : `FAIL ${row.tls.error}`) : '-',
    row.tls?.subject?.replace(/^.*CN=/, 'CN=') ?? '-',
    row.tls?.ok ? (row.tls.coversEndpoint ? 'yes' : 'NO') : '-',
    row.tls?.daysLeft !== undefined ? `${row.tls.daysLeft}d` : '-',
    check(row),
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  return [HEADERS as readonly string[], ...lines].map((cells) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n');
}

function check(row: ProbeRow): string {
  if (row.kubernetes) {
    const { readyz, version, auth } = row.kubernetes;
    const ready = readyz.error ? `readyz ${readyz.error}` : `readyz ${readyz.status}`;
    const ver = version.gitVersion ?? (version.error ? `version ${version.error}` : `version ${version.status}`);
    return `${ready}, ${ver} (${auth})`;
  }
  if (row.talos) {
    if (!row.talos.ok) return `talos version FAIL ${row.talos.error}`;
    return `talos ${row.talos.versions?.map((v) => `${v.tag ?? '?'}${v.hostname ? ` on ${v.hostname}` : ''}`).join(', ')}`;
  }
  if (row.kind === 'talos' && row.tls?.ok) return 'apid reachable (pass --talosconfig for version)';
  return '-';
}

export function formatVerdict(verdict: Verdict): string {
  const lines = verdict.warnings.map((w) => `warning: ${w}`);
  if (verdict.usable) lines.push('endpoint usable');
  return lines.join('\n');
}
