import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { formatAge, formatBytes, formatLatency, formatTime } from '../../../src/runtime/admin/format.js';
import { escapeHtml, renderStatusBody, renderStatusPage, STATUS_PAGE_CSP } from '../../../src/runtime/admin/status-page.js';
import { formatStatusText } from '../../../src/runtime/admin/status-table.js';
import { NOW, sampleSnapshot, startTestAdmin } from './fixture.js';

test('GET / shows every listener and server with state, admin state, connections and checks', async (t) => {
  const { admin } = await startTestAdmin(t);
  const response = await fetch(`${admin.url}/`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
  const html = await response.text();
  for (const listener of ['kubernetes', 'talos']) assert.match(html, new RegExp(`<section class="listener" data-listener="${listener}">`));
  const row = (listener: string, server: string) => {
    const section = html.slice(html.indexOf(`data-listener="${listener}"`));
    const start = section.indexOf(`<tr class="server`, section.indexOf(`data-server="${server}"`) - 80);
    return section.slice(start, section.indexOf('</tr>', start));
  };
  const cp02 = row('kubernetes', 'cp-02');
  assert.match(cp02, /class="server state-down admin-ready"/);
  assert.match(cp02, /<span class="badge state-down">down<\/span>/);
  assert.match(cp02, /connect ECONNREFUSED, 2\/2 failures/);
  assert.match(cp02, /30s/, 'time in state');
  assert.match(cp02, /fail<\/span> connect ECONNREFUSED/);
  assert.match(cp02, /127\.0\.0\.12:6443/);
  const cp01 = row('kubernetes', 'cp-01');
  assert.match(cp01, /badge state-up">up</);
  assert.match(cp01, /<td>3<\/td><td>70<\/td>/, 'active and total connections');
  assert.match(cp01, /683\.6 KiB/, 'bytes out');
  assert.match(cp01, /in 1\.3ms|in 1\.2ms/, 'check latency');
  assert.match(row('kubernetes', 'cp-03'), /badge admin-drain">drain</);
  assert.match(row('kubernetes', 'cp-03'), /<span class="tag">connections close in 20s<\/span>/);
  assert.match(row('talos', 'cp-03'), /badge admin-maint">maint</);
  assert.match(row('talos', 'cp-02'), /badge state-checking">checking</);
  assert.match(html, /2 connection\(s\) found no server/);
  assert.match(html, /No reload since start/);
  assert.doesNotMatch(html, /class="vip"/, 'no VIP block without a VIP');
  // Self-contained: no external scripts, styles, images or fonts.
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i);
  assert.doesNotMatch(html, /https?:\/\//);
  // It refreshes itself.
  assert.match(html, /\?fragment=1/);
  assert.match(html, /data-refresh-ms="1500"/);
});

test('every text from the snapshot is escaped', () => {
  const s = sampleSnapshot();
  const evil = '<img src=x onerror=alert(1)>"\'&';
  s.spec.cluster = evil;
  s.spec.source = evil;
  s.listeners[0].name = evil;
  s.listeners[0].servers[0].name = evil;
  s.listeners[0].servers[0].stateReason = evil;
  s.listeners[0].servers[1].lastCheck!.reason = `https 500 ${evil}`;
  s.lastReload = { at: NOW, ok: false, message: evil, problems: [evil] };
  s.vip = { address: '127.0.0.10', prefixLength: 8, interface: evil, self: evil, role: 'backup', holder: evil, priority: 100, effectivePriority: 100, transitions: [{ at: NOW, from: 'init', to: 'backup', reason: evil }] };
  const html = renderStatusPage(s);
  assert.doesNotMatch(html, /<img/);
  assert.doesNotMatch(html, /"'&</);
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;'));
  assert.equal(escapeHtml('a<b>"c"&\'d\''), 'a&lt;b&gt;&quot;c&quot;&amp;&#39;d&#39;');
});

test('a failed reload is visible with its problems; a good one is quiet', () => {
  const s = sampleSnapshot();
  s.lastReload = { at: NOW - 4000, ok: false, message: 'endpoint.yaml is invalid; still serving the previous config', problems: ['endpoint.yaml:12:5: error: listeners[0].port: 70000 is out of range'] };
  s.reloads = { ok: 2, failed: 1 };
  const html = renderStatusBody(s);
  assert.match(html, /<section class="banner bad" role="alert" data-reload="failed">/);
  assert.match(html, /reload failed at 2026-11-24 00:59:56Z, still serving the previous config/);
  assert.match(html, /<li>endpoint\.yaml:12:5: error: listeners\[0\]\.port: 70000 is out of range<\/li>/);
  assert.match(html, /2 ok, 1 failed since start/);
  s.lastReload = { at: NOW - 4000, ok: true, message: 'reloaded endpoint.yaml' };
  const good = renderStatusBody(s);
  assert.doesNotMatch(good, /banner bad/);
  assert.match(good, /Last reload succeeded at 2026-11-24 00:59:56Z: reloaded endpoint\.yaml/);
});

test('the VIP block shows role, holder, priority, transitions (newest first) and dropped adverts by reason', () => {
  const s = sampleSnapshot();
  s.vip = {
    address: '127.0.0.10', prefixLength: 24, interface: 'br0', self: 'lb-1', role: 'master', holder: 'lb-1', priority: 150, effectivePriority: 140,
    transitions: [
      { at: NOW - 60_000, from: 'init', to: 'backup', reason: 'started' },
      { at: NOW - 10_000, from: 'backup', to: 'master', reason: 'peer lb-2 silent for 3 adverts' },
    ],
    transitionsTotal: 12,
    advertsDropped: { auth: 3, replay: 1, malformed: 0 },
  };
  const html = renderStatusBody(s);
  assert.match(html, /<dt>adverts dropped<\/dt><dd data-adverts-dropped>4 \(auth 3, replay 1\)<\/dd>/);
  assert.match(html, /VIP 127\.0\.0\.10\/24 <small>on br0<\/small>/);
  assert.match(html, /<dt>role<\/dt><dd><span class="badge role-master">master<\/span><\/dd>/);
  assert.match(html, /<dt>holder<\/dt><dd>lb-1<\/dd>/);
  assert.match(html, /140 \(configured 150\)/);
  assert.match(html, /<dt>transitions<\/dt><dd>12<\/dd>/);
  assert.ok(html.indexOf('peer lb-2 silent') < html.indexOf('started'), 'newest first');
});

test('the CSP allows exactly the inline script and style of the page', () => {
  const html = renderStatusPage(sampleSnapshot());
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1];
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1];
  const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
  assert.ok(STATUS_PAGE_CSP.includes(`script-src ${hash(script)}`));
  assert.ok(STATUS_PAGE_CSP.includes(`style-src ${hash(style)}`));
  assert.match(STATUS_PAGE_CSP, /default-src 'none'/);
});

test('status text: one row per server plus a frontend row, and a failed reload on top', () => {
  const s = sampleSnapshot();
  s.lastReload = { at: NOW - 4000, ok: false, message: 'endpoint.yaml is invalid', problems: ['listeners[0].port: 70000 is out of range'] };
  const text = formatStatusText(s);
  const lines = text.split('\n');
  assert.match(lines[0], /^cluster rciis · endpoint 127\.0\.0\.10 · version 0\.1\.0 · pid 4242 · up 1h00m$/);
  assert.ok(lines.includes('reload failed at 2026-11-24 00:59:56Z, still serving the previous config: endpoint.yaml is invalid'));
  assert.ok(lines.includes('  - listeners[0].port: 70000 is out of range'));
  const header = lines.find((l) => l.startsWith('LISTENER'))!;
  assert.match(header, /^LISTENER\s+SERVER\s+ADDRESS\s+STATE\s+IN STATE\s+ADMIN\s+CUR\s+TOTAL\s+LAST CHECK$/);
  const cp02 = lines.find((l) => /^kubernetes\s+cp-02 /.test(l))!;
  assert.match(cp02, /127\.0\.0\.12:6443\s+down\s+30s\s+ready\s+0\s+48\s+fail connect ECONNREFUSED in 0\.4ms/);
  assert.match(lines.find((l) => /^kubernetes\s+\(frontend\)/.test(l))!, /1\/3 eligible\s+5\s+120\s+2 found no server/);
  // Columns line up: every row's ADDRESS starts where the header's does.
  const column = header.indexOf('ADDRESS');
  for (const line of lines.filter((l) => /^(kubernetes|talos)\s/.test(l))) assert.equal(line[column - 1], ' ', line);
});

test('formatters', () => {
  assert.deepEqual([850, 12_000, 252_000, 3 * 3600_000 + 5 * 60_000, 50 * 3600_000].map(formatAge), ['850ms', '12s', '4m12s', '3h05m', '2d02h']);
  assert.deepEqual([0, 1536, 20 * 1024 * 1024].map(formatBytes), ['0 B', '1.5 KiB', '20.0 MiB']);
  assert.deepEqual([1.25, 15.4, 1500].map(formatLatency), ['1.3ms', '15ms', '1.50s']);
  assert.equal(formatTime(NOW), '2026-11-24 01:00:00Z');
});
