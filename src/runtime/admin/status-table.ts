// `cluster-endpoint status` as text: a few summary lines and one row per server. Pure.
import { joinHostPort } from '../../spec/address.js';
import { formatAge, formatLatency, formatTime } from './format.js';
import type { StatusSnapshot } from '../snapshot.js';
import { dataPlaneText, discoveryText, syncText } from './status-page.js';

export function formatStatusText(s: StatusSnapshot): string {
  const lines: string[] = [];
  lines.push(`cluster ${s.spec.cluster} · endpoint ${s.spec.endpoint}${s.dataPlane ? ` · ${dataPlaneText(s.dataPlane)}` : ''} · version ${s.version} · pid ${s.pid} · up ${formatAge(s.now - s.startedAt)}`);
  lines.push(`config ${s.spec.source}, loaded ${formatTime(s.spec.loadedAt)}`);
  const r = s.lastReload;
  if (r && !r.ok) {
    lines.push(`reload failed at ${formatTime(r.at)}, still serving the previous config: ${r.message}`);
    for (const problem of r.problems ?? []) lines.push(`  - ${problem}`);
  } else if (r) {
    lines.push(`last reload ok at ${formatTime(r.at)}: ${r.message}`);
  }
  if (s.vip) {
    const v = s.vip;
    lines.push(`VIP ${v.address}/${v.prefixLength} on ${v.interface}: ${v.role} (this peer ${v.self}, holder ${v.holder ?? 'unknown'}), priority ${v.effectivePriority}${v.effectivePriority === v.priority ? '' : ` of ${v.priority}`}, ${v.transitionsTotal ?? v.transitions.length} transition(s)`);
    if (v.sync) lines.push(`flow sync: ${syncText(v.sync, s.now)}`);
  }
  if (s.bgp) {
    const b = s.bgp;
    lines.push(`BGP ${(b.prefixes ?? [b.prefix]).join(' ')} AS${b.localAsn}: ${b.announced ? 'announced' : 'withdrawn'} (balancer ${b.healthy ? 'healthy' : 'unhealthy'}, bird ${b.speaker}); ${b.peers.map((p) => `${p.name} ${p.address} ${p.state}${p.bfd ? ` bfd ${p.bfd}` : ''}${p.routeAnnounced ? ' route announced' : ''}${p.lastError && p.state !== 'established' ? ` (${p.lastError})` : ''}`).join('; ')}`);
  }
  if (s.discovery) lines.push(`discovery ${discoveryText(s.discovery, s.now)}`);
  const header = ['LISTENER', 'SERVER', 'ADDRESS', 'STATE', 'IN STATE', 'ADMIN', 'CUR', 'TOTAL', 'LAST CHECK'];
  const rows: string[][] = [];
  for (const l of s.listeners) {
    for (const v of l.servers) {
      const check = v.lastCheck ? `${v.lastCheck.ok ? 'ok' : 'fail'} ${v.lastCheck.reason} in ${formatLatency(v.lastCheck.latencyMs)}` : '-';
      const ejected = v.ejectedUntil !== undefined && v.ejectedUntil > s.now ? ` (ejected ${formatAge(v.ejectedUntil - s.now)})` : '';
      rows.push([l.name, `${v.name}${v.removed ? ' (removed)' : ''}${ejected}`, joinHostPort(v.address, v.port), v.state, formatAge(s.now - v.stateSince), v.adminState, String(v.activeConnections), String(v.totalConnections), check]);
    }
    const eligible = l.servers.filter((v) => v.state === 'up' && v.adminState === 'ready').length;
    rows.push([l.name, '(frontend)', joinHostPort(l.bind, l.port), `${eligible}/${l.servers.length} eligible`, '', '', String(l.activeConnections), String(l.totalConnections), l.failedConnections ? `${l.failedConnections} found no server` : '']);
  }
  lines.push('', ...table([header, ...rows]));
  return `${lines.join('\n')}\n`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ').trimEnd());
}
