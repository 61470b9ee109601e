// The status page (GET /), in the spirit of HAProxy's stats page. Pure: snapshot in, HTML out.
// The page re-fetches its own body (GET /?fragment=1) every 1.5 s and swaps it in, so there is one
// renderer and one place that escapes text — this file — instead of a second one in browser code.
import { createHash } from 'node:crypto';
import { joinHostPort } from '../../spec/address.js';
import { formatAge, formatBytes, formatLatency, formatTime } from './format.js';
import type { BgpSnapshot, DiscoverySnapshot, ListenerSnapshot, ServerSnapshot, StatusSnapshot, VipSnapshot } from '../snapshot.js';

export const REFRESH_MS = 1500;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** The whole page: head with inline CSS and JS, and the body rendered from this snapshot. */
export function renderStatusPage(snapshot: StatusSnapshot): string {
  return [...statusPagePieces(snapshot)].join('');
}

/** The whole page in pieces (the admin surface formats it in slices). */
export function* statusPagePieces(snapshot: StatusSnapshot): Generator<string> {
  const [head, tail] = pageFrame(snapshot).split(BODY_MARK);
  yield head;
  yield* statusBodyPieces(snapshot);
  yield tail;
}

const BODY_MARK = '\u0000body\u0000';

function pageFrame(snapshot: StatusSnapshot): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`${snapshot.spec.cluster} — cluster-endpoint status`)}</title>
<noscript><meta http-equiv="refresh" content="5"></noscript>
<style>${STYLE}</style>
</head>
<body>
<div id="connection" class="connection" role="status" hidden></div>
<main id="status" data-refresh-ms="${REFRESH_MS}">
${BODY_MARK}
</main>
<div id="toast" class="toast" role="alert" hidden></div>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** The part of the page that changes: everything inside <main>. */
export function renderStatusBody(s: StatusSnapshot): string {
  return [...statusBodyPieces(s)].join('');
}

/** The body in pieces: the sections, then each listener a row at a time. */
export function* statusBodyPieces(s: StatusSnapshot): Generator<string> {
  yield renderHeader(s);
  yield `\n${renderReload(s)}`;
  if (s.vip) yield `\n${renderVip(s.vip, s.now)}`;
  if (s.bgp) yield `\n${renderBgp(s.bgp, s.now)}`;
  if (s.discovery) yield `\n${renderDiscovery(s.discovery, s.now)}`;
  for (const l of s.listeners) {
    yield '\n';
    yield* listenerPieces(l, s.now);
  }
}

/** "kernel (nftables table inet cluster_endpoint_prod), servers see the client's address". */
export function dataPlaneText(d: NonNullable<StatusSnapshot['dataPlane']>): string {
  const client = d.mode === 'kernel' ? (d.preserveClientIp ? ', servers see the client\'s address' : ', servers see the balancer\'s address') : '';
  return `${d.description}${client}`;
}

function renderHeader(s: StatusSnapshot): string {
  const facts = [
    ['endpoint', s.spec.endpoint],
    ...(s.dataPlane ? [['mode', dataPlaneText(s.dataPlane)]] : []),
    ['version', s.version],
    ['pid', String(s.pid)],
    ['up', formatAge(s.now - s.startedAt)],
    ['config', `${s.spec.source}, loaded ${formatTime(s.spec.loadedAt)}`],
  ];
  return `<header class="top">
<h1>cluster-endpoint <span class="cluster">${escapeHtml(s.spec.cluster)}</span></h1>
<dl class="facts">${facts.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('')}</dl>
<p class="updated">snapshot at <time data-now="${s.now}">${escapeHtml(formatTime(s.now))}</time></p>
</header>`;
}

function renderReload(s: StatusSnapshot): string {
  const r = s.lastReload;
  const counts = s.reloads ? ` (${s.reloads.ok} ok, ${s.reloads.failed} failed since start)` : '';
  if (!r) return `<p class="reload" data-reload="none">No reload since start; the config was loaded at ${escapeHtml(formatTime(s.spec.loadedAt))}.</p>`;
  if (r.ok) return `<p class="reload ok" data-reload="ok">Last reload succeeded at ${escapeHtml(formatTime(r.at))}: ${escapeHtml(r.message)}${escapeHtml(counts)}</p>`;
  const problems = r.problems?.length ? `<ul class="problems">${r.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>` : '';
  return `<section class="banner bad" role="alert" data-reload="${r.held ? 'held' : 'failed'}">
<strong>reload ${r.held ? 'held' : 'failed'} at ${escapeHtml(formatTime(r.at))}, still serving the previous config</strong> (loaded ${escapeHtml(formatTime(s.spec.loadedAt))})${escapeHtml(counts)}
<p>${escapeHtml(r.message)}</p>${problems}
</section>`;
}

/** "conntrackd, primary · peer reachable · 12 flows here, 12 from peers · last commit 3 flows in 6 ms, 2m ago". */
export function syncText(sync: NonNullable<VipSnapshot['sync']>, now: number): string {
  const state = !sync.running ? 'conntrackd NOT RUNNING' : `conntrackd, ${sync.role}`;
  const peer = sync.peerReachable ? 'peer reachable' : 'PEER NOT HEARD (flows are not synced)';
  const commit = sync.lastCommit ? ` · last commit ${sync.lastCommit.flows} flow(s) in ${sync.lastCommit.ms} ms${sync.lastCommit.ok ? '' : ' (FAILED)'}, ${formatAge(now - sync.lastCommit.at)} ago` : '';
  const lost = sync.messagesLost > 0 ? ` · ${sync.messagesLost} message(s) lost` : '';
  return `${state} · ${peer} · ${sync.flowsLocal} flow(s) here, ${sync.flowsFromPeers} from peers${commit}${lost}`;
}

/** "0", or the total with its reasons: a wrong key or a replay shows up here before it costs a failover. */
function formatDropped(dropped: Record<string, number> | undefined): string {
  const reasons = Object.entries(dropped ?? {}).filter(([, count]) => count > 0).sort(([a], [b]) => a.localeCompare(b));
  if (reasons.length === 0) return '0';
  const total = reasons.reduce((sum, [, count]) => sum + count, 0);
  return `${total} (${reasons.map(([reason, count]) => `${reason} ${count}`).join(', ')})`;
}

function renderVip(vip: VipSnapshot, now: number): string {
  const transitions = [...vip.transitions].sort((a, b) => b.at - a.at).slice(0, 10);
  const total = vip.transitionsTotal ?? vip.transitions.length;
  const rows = transitions.map((t) => `<tr><td>${escapeHtml(formatTime(t.at))}</td><td>${escapeHtml(formatAge(now - t.at))} ago</td><td>${badge('role', t.from)} → ${badge('role', t.to)}</td><td>${escapeHtml(t.reason)}</td></tr>`).join('');
  return `<section class="vip" data-vip="${escapeHtml(vip.address)}">
<h2>VIP ${escapeHtml(`${vip.address}/${vip.prefixLength}`)} <small>on ${escapeHtml(vip.interface)}</small></h2>
<dl class="facts">
<div><dt>this peer</dt><dd>${escapeHtml(vip.self)}</dd></div>
<div><dt>role</dt><dd>${badge('role', vip.role)}</dd></div>
<div><dt>holder</dt><dd>${escapeHtml(vip.holder ?? 'unknown')}</dd></div>
<div><dt>priority</dt><dd>${escapeHtml(vip.effectivePriority === vip.priority ? String(vip.priority) : `${vip.effectivePriority} (configured ${vip.priority})`)}</dd></div>
<div><dt>transitions</dt><dd>${total}</dd></div>
<div><dt>adverts dropped</dt><dd data-adverts-dropped>${escapeHtml(formatDropped(vip.advertsDropped))}</dd></div>
${vip.sync ? `<div><dt>flow sync</dt><dd data-sync="${vip.sync.peerReachable ? 'ok' : 'down'}">${escapeHtml(syncText(vip.sync, now))}</dd></div>` : ''}
</dl>
${rows ? `<table class="transitions"><thead><tr><th>at</th><th>age</th><th>role</th><th>reason</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="muted">No role transition yet.</p>'}
</section>`;
}

/** One line on where the members come from: `kubernetes: synced, 3 node(s) via https://…`. */
export function discoveryText(d: DiscoverySnapshot, now: number): string {
  const last = d.lastSyncAt !== undefined ? `, last confirmed ${formatAge(now - d.lastSyncAt)} ago` : '';
  const why = d.state === 'failing' && d.lastError ? `; keeping the last known nodes (${d.lastError})` : '';
  return `${d.source}: ${d.state} for ${formatAge(now - d.stateSince)}, ${d.nodes.length} node(s)${d.server ? ` via ${d.server}` : ''}${last}${why}`;
}

function renderDiscovery(d: DiscoverySnapshot, now: number): string {
  return `<section class="vip discovery" data-discovery="${escapeHtml(d.state)}">
<h2>Discovery <small>${escapeHtml(d.source)}</small></h2>
<dl class="facts">
<div><dt>state</dt><dd>${badge('discovery', d.state)}</dd></div>
<div><dt>since</dt><dd>${escapeHtml(formatAge(now - d.stateSince))}</dd></div>
<div><dt>nodes</dt><dd>${escapeHtml(d.nodes.map((n) => `${n.name} ${n.address}`).join(', ') || 'none yet (the spec\'s controlPlane serves)')}</dd></div>
<div><dt>API server</dt><dd>${escapeHtml(d.server ?? '-')}</dd></div>
<div><dt>lists / errors</dt><dd>${d.lists} / ${d.errors}</dd></div>
${d.lastError ? `<div><dt>last error</dt><dd>${escapeHtml(d.lastError)}</dd></div>` : ''}
</dl>
</section>`;
}

function renderBgp(bgp: BgpSnapshot, now: number): string {
  const rows = bgp.peers.map((p) => `<tr data-peer="${escapeHtml(p.name)}"><td>${escapeHtml(p.name)}</td><td>${escapeHtml(`${p.address} AS${p.asn}`)}</td><td>${badge('session', p.state)}</td><td>${escapeHtml(formatAge(now - p.stateSince))}</td><td>${p.bfd ? badge('bfd', p.bfd) : '-'}</td><td data-announced="${p.routeAnnounced}">${p.routeAnnounced ? 'announced' : 'withdrawn'}</td><td>${escapeHtml(p.lastError ?? '')}</td></tr>`).join('');
  return `<section class="vip bgp" data-bgp="${escapeHtml(bgp.prefix)}">
<h2>BGP ${escapeHtml((bgp.prefixes ?? [bgp.prefix]).join(' '))} <small>AS${bgp.localAsn}${bgp.routerId ? `, router id ${escapeHtml(bgp.routerId)}` : ''}</small></h2>
<dl class="facts">
<div><dt>balancer</dt><dd>${bgp.healthy ? 'healthy' : 'unhealthy'}</dd></div>
<div><dt>route</dt><dd data-route="${bgp.announced ? 'announced' : 'withdrawn'}">${bgp.announced ? 'announced' : 'withdrawn'}</dd></div>
<div><dt>speaker</dt><dd>${escapeHtml(`bird ${bgp.speaker}${bgp.speakerRestarts ? `, ${bgp.speakerRestarts} restart(s)` : ''}`)}</dd></div>
<div><dt>transitions</dt><dd>${bgp.transitions}</dd></div>
</dl>
<table class="transitions"><thead><tr><th>peer</th><th>router</th><th>session</th><th>in state</th><th>BFD</th><th>route</th><th>last error</th></tr></thead><tbody>${rows}</tbody></table>
</section>`;
}

const COLUMNS = ['Server', 'Address', 'State', 'In state', 'Admin', 'Last check', 'Cur', 'Total', 'Conn err', 'Redisp', 'Chk fail', 'Downs', 'Bytes in', 'Bytes out', 'Weight', 'Set'];

function* listenerPieces(l: ListenerSnapshot, now: number): Generator<string> {
  const eligible = l.servers.filter((s) => s.state === 'up' && s.adminState === 'ready').length;
  yield `<section class="listener" data-listener="${escapeHtml(l.name)}">
<h2>${escapeHtml(l.name)} <small>${escapeHtml(`${joinHostPort(l.bind, l.port)} → :${l.targetPort} · ${l.balance} · ${l.checkType} check · ${eligible}/${l.servers.length} servers eligible`)}</small></h2>
<div class="scroll"><table class="servers">
<thead><tr>${COLUMNS.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>
<tbody>
`;
  for (const [index, server] of l.servers.entries()) yield `${index === 0 ? '' : '\n'}${renderServer(l, server, now)}`;
  yield `
</tbody>
<tfoot><tr class="frontend"><th colspan="6">Frontend${l.failedConnections ? ` <span class="warn">${l.failedConnections} connection(s) found no server</span>` : ''}</th>
<td>${l.activeConnections}</td><td>${l.totalConnections}</td><td colspan="4"></td><td>${escapeHtml(formatBytes(l.bytesIn))}</td><td>${escapeHtml(formatBytes(l.bytesOut))}</td><td colspan="2"></td></tr></tfoot>
</table></div>
</section>`;
}

function renderServer(l: ListenerSnapshot, s: ServerSnapshot, now: number): string {
  const check = s.lastCheck
    ? `<span class="${s.lastCheck.ok ? 'ok' : 'bad'}">${s.lastCheck.ok ? 'ok' : 'fail'}</span> ${escapeHtml(s.lastCheck.reason)}<div class="reason">in ${escapeHtml(formatLatency(s.lastCheck.latencyMs))}, ${escapeHtml(formatAge(now - s.lastCheck.at))} ago</div>`
    : '<span class="muted">none yet</span>';
  const closing = s.drainDeadline !== undefined && s.drainDeadline > now && s.activeConnections > 0 ? `connections close in ${formatAge(s.drainDeadline - now)}` : '';
  const ejected = s.ejectedUntil !== undefined && s.ejectedUntil > now ? `ejected ${formatAge(s.ejectedUntil - now)}: did not answer` : '';
  const tag = [s.removed ? 'removed' : '', closing, ejected].filter(Boolean).join(', ');
  const removed = tag ? ` <span class="tag">${escapeHtml(tag)}</span>` : '';
  const actions = (['ready', 'drain', 'maint'] as const)
    .map((state) => `<button type="button" data-admin-state="${state}"${state === s.adminState ? ' disabled' : ''}>${state}</button>`).join('');
  return `<tr class="server state-${s.state} admin-${s.adminState}" data-server="${escapeHtml(s.name)}" data-state="${s.state}" data-admin="${s.adminState}">
<td class="name">${escapeHtml(s.name)}${removed}</td>
<td>${escapeHtml(joinHostPort(s.address, s.port))}</td>
<td class="state">${badge('state', s.state)}</td>
<td class="since" title="${escapeHtml(s.stateReason)}">${escapeHtml(formatAge(now - s.stateSince))}<div class="reason">${escapeHtml(s.stateReason)}</div></td>
<td class="admin">${badge('admin', s.adminState)}</td>
<td class="check">${check}</td>
<td>${s.activeConnections}</td><td>${s.totalConnections}</td>
<td>${s.connectFailures}</td><td>${s.redispatches}</td><td>${s.checksFailed}</td><td>${s.downTransitions}</td>
<td>${escapeHtml(formatBytes(s.bytesIn))}</td><td>${escapeHtml(formatBytes(s.bytesOut))}</td>
<td>${s.weight}</td>
<td class="actions" data-listener="${escapeHtml(l.name)}" data-server="${escapeHtml(s.name)}">${actions}</td>
</tr>`;
}

function badge(kind: string, value: string): string {
  return `<span class="badge ${kind}-${escapeHtml(value)}">${escapeHtml(value)}</span>`;
}

const STYLE = `
:root { --up:#1f7a1f; --up-bg:#dff5df; --down:#b3261e; --down-bg:#fbe0de; --checking:#8a6d00; --checking-bg:#fff4c2;
  --drain:#1a5fb4; --drain-bg:#dde9fb; --maint:#6b4f2a; --maint-bg:#eee4d6; --line:#d7dbe0; --muted:#667; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1c1e21; background: #f6f7f9; }
main { padding: 12px 16px 40px; }
h1 { font-size: 18px; margin: 0 0 6px; } h1 .cluster { color: var(--drain); }
h2 { font-size: 15px; margin: 18px 0 6px; } h2 small { font-weight: normal; color: var(--muted); }
.facts { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0; }
.facts div { display: flex; gap: 6px; } .facts dt { color: var(--muted); } .facts dd { margin: 0; font-weight: 500; }
.updated { margin: 4px 0 0; color: var(--muted); font-size: 12px; }
.reload { margin: 10px 0; color: var(--muted); } .reload.ok { color: var(--up); }
.banner { margin: 10px 0; padding: 8px 12px; border-radius: 6px; }
.banner.bad { background: var(--down-bg); border: 1px solid var(--down); color: #5c0f0a; }
.banner p { margin: 4px 0; } .problems { margin: 4px 0 0 18px; padding: 0; font-family: ui-monospace, monospace; font-size: 12px; white-space: pre-wrap; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); }
th, td { padding: 3px 6px; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; vertical-align: top; }
thead th { background: #eef0f3; font-weight: 600; font-size: 12px; }
table.servers td:nth-child(n+7):not(.actions) { text-align: right; font-variant-numeric: tabular-nums; }
tfoot th, tfoot td { background: #f0f1f4; font-weight: 600; text-align: right; } tfoot th { text-align: left; }
tr.state-up td:first-child { border-left: 4px solid var(--up); }
tr.state-down td:first-child { border-left: 4px solid var(--down); }
tr.state-checking td:first-child { border-left: 4px solid var(--checking); }
tr.state-down { background: var(--down-bg); } tr.state-checking { background: var(--checking-bg); }
tr.admin-drain { background: var(--drain-bg); } tr.admin-maint { background: var(--maint-bg); }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-weight: 600; font-size: 12px; border: 1px solid transparent; }
.state-up.badge, .role-master.badge, .session-established.badge, .bfd-up.badge { color: #fff; background: var(--up); }
.state-down.badge, .role-fault.badge, .bfd-down.badge { color: #fff; background: var(--down); }
.state-checking.badge, .role-init.badge { color: #3d3000; background: #f5d35c; }
.role-backup.badge { color: var(--drain); border-color: var(--drain); }
.admin-ready.badge { color: var(--muted); border-color: var(--line); }
.admin-drain.badge { color: #fff; background: var(--drain); } .admin-maint.badge { color: #fff; background: var(--maint); }
.reason { color: var(--muted); font-size: 11px; }
td.check, td.since { white-space: normal; min-width: 150px; }
.check .ok { color: var(--up); font-weight: 600; } .check .bad { color: var(--down); font-weight: 600; }
.muted { color: var(--muted); } .warn { color: var(--down); font-weight: normal; margin-left: 8px; }
.tag { font-size: 11px; color: var(--maint); border: 1px solid var(--maint); border-radius: 4px; padding: 0 4px; }
.actions button { font: inherit; font-size: 11px; padding: 0 4px; margin-right: 2px; cursor: pointer; }
.actions button:disabled { cursor: default; opacity: .45; }
.vip table { margin-top: 6px; }
.connection { position: sticky; top: 0; padding: 6px 18px; background: var(--down); color: #fff; font-weight: 600; z-index: 1; }
.toast { position: fixed; bottom: 12px; right: 12px; padding: 8px 12px; background: #1c1e21; color: #fff; border-radius: 6px; max-width: 480px; }
`;

// Browser code: re-fetch the body, show when the balancer stops answering, send admin-state changes.
// Text from the server is already escaped HTML; messages shown here go through textContent.
const SCRIPT = `
(function () {
  var main = document.getElementById('status');
  var banner = document.getElementById('connection');
  var toast = document.getElementById('toast');
  var every = Number(main.getAttribute('data-refresh-ms')) || 1500;
  var lostSince = null;
  var busy = false;
  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(location.pathname + '?fragment=1', { cache: 'no-store', headers: { accept: 'text/html' } })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
      .then(function (html) { main.innerHTML = html; lostSince = null; banner.hidden = true; })
      .catch(function (e) {
        if (!lostSince) lostSince = new Date();
        banner.textContent = 'The balancer does not answer since ' + lostSince.toISOString().slice(11, 19) + 'Z (' + e.message + '); showing the last status, retrying.';
        banner.hidden = false;
      })
      .finally(function () { busy = false; });
  }
  function say(text) {
    toast.textContent = text; toast.hidden = false;
    clearTimeout(say.timer); say.timer = setTimeout(function () { toast.hidden = true; }, 4000);
  }
  main.addEventListener('click', function (event) {
    var button = event.target.closest('button[data-admin-state]');
    if (!button) return;
    var cell = button.closest('.actions');
    var url = 'api/servers/' + encodeURIComponent(cell.getAttribute('data-listener')) + '/' + encodeURIComponent(cell.getAttribute('data-server')) + '/admin-state';
    var state = button.getAttribute('data-admin-state');
    fetch(url, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ adminState: state }) })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) { say(res.ok ? cell.getAttribute('data-server') + ': ' + state : (res.body.error && res.body.error.message) || 'failed'); refresh(); })
      .catch(function (e) { say('failed: ' + e.message); });
  });
  setInterval(refresh, every);
  document.addEventListener('visibilitychange', refresh);
})();
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** Only this page's own inline style and script may run, and it may talk only to this origin. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)}`,
  `script-src ${sha256(SCRIPT)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
