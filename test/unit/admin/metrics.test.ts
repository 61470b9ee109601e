import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { createAdminMetrics, haproxyServerState, METRICS } from '../../../src/runtime/admin/metrics.js';
import { NOW, sampleSnapshot, startTestAdmin } from './fixture.js';

/** Parses Prometheus text: `name{a="b"} value` → Map("name{a=b}" → value), and the TYPE lines. */
function parseExposition(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) { types.set(type[1], type[2]); continue; }
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a valid exposition line: ${line}`);
    const labels = match[2] ? [...match[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]}=${m[2]}`).sort().join(',') : '';
    samples.set(`${match[1]}{${labels}}`, Number(match[3]));
  }
  return { samples, types };
}

test('GET /metrics serves Prometheus text built from the snapshot', async (t) => {
  const { admin } = await startTestAdmin(t);
  const response = await fetch(`${admin.url}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const { samples, types } = parseExposition(await response.text());
  const expect = (key: string, value: number) => assert.equal(samples.get(key), value, key);

  expect('haproxy_frontend_current_sessions{proxy=kubernetes}', 5);
  expect('haproxy_frontend_sessions_total{proxy=kubernetes}', 120);
  expect('haproxy_frontend_bytes_in_total{proxy=kubernetes}', 4096);
  expect('haproxy_frontend_bytes_out_total{proxy=kubernetes}', 1_048_576);
  expect('cluster_endpoint_frontend_no_server_total{proxy=kubernetes}', 2);

  // cp-01 up+ready, cp-02 down, cp-03 up+drain; on talos cp-02 checking, cp-03 maint.
  expect('haproxy_server_status{proxy=kubernetes,server=cp-01,state=UP}', 1);
  expect('haproxy_server_status{proxy=kubernetes,server=cp-01,state=DOWN}', 0);
  expect('haproxy_server_status{proxy=kubernetes,server=cp-02,state=DOWN}', 1);
  expect('haproxy_server_status{proxy=kubernetes,server=cp-03,state=DRAIN}', 1);
  expect('haproxy_server_status{proxy=talos,server=cp-02,state=DOWN}', 1);
  expect('haproxy_server_status{proxy=talos,server=cp-03,state=MAINT}', 1);
  expect('haproxy_server_status{proxy=talos,server=cp-03,state=NOLB}', 0);
  expect('cluster_endpoint_server_state{proxy=talos,server=cp-02,state=checking}', 1);
  expect('cluster_endpoint_server_admin_state{proxy=kubernetes,server=cp-03,state=drain}', 1);
  expect('cluster_endpoint_server_admin_state{proxy=kubernetes,server=cp-03,state=ready}', 0);

  expect('haproxy_server_current_sessions{proxy=kubernetes,server=cp-01}', 3);
  expect('haproxy_server_sessions_total{proxy=kubernetes,server=cp-02}', 48);
  expect('haproxy_server_connection_errors_total{proxy=kubernetes,server=cp-02}', 4);
  expect('haproxy_server_redispatch_warnings_total{proxy=kubernetes,server=cp-02}', 3);
  expect('haproxy_server_check_failures_total{proxy=kubernetes,server=cp-02}', 9);
  expect('haproxy_server_check_up_down_total{proxy=kubernetes,server=cp-02}', 1);
  expect('haproxy_server_downtime_seconds_total{proxy=kubernetes,server=cp-02}', 30);
  assert.equal(samples.has('haproxy_server_downtime_seconds_total{proxy=kubernetes,server=cp-01}'), false, 'no downtime series when the daemon does not report it');
  expect('haproxy_server_check_duration_seconds{proxy=kubernetes,server=cp-01}', 0.00125);
  expect('cluster_endpoint_server_check_success{proxy=kubernetes,server=cp-02}', 0);
  assert.equal(samples.has('haproxy_server_check_duration_seconds{proxy=talos,server=cp-02}'), false, 'no check yet, no duration');
  expect('haproxy_server_weight{proxy=kubernetes,server=cp-01}', 2);
  expect('haproxy_server_weight{proxy=kubernetes,server=cp-03}', 0);
  expect('haproxy_server_uweight{proxy=kubernetes,server=cp-03}', 1);
  expect('haproxy_server_bytes_out_total{proxy=kubernetes,server=cp-01}', 700_000);

  // check_last_change is relative to the snapshot's own clock, not the scrape's.
  expect('haproxy_server_check_last_change_seconds{proxy=kubernetes,server=cp-02}', 30);

  expect('haproxy_backend_active_servers{proxy=kubernetes}', 1);
  expect('haproxy_backend_status{proxy=kubernetes,state=UP}', 1);
  expect('haproxy_backend_current_sessions{proxy=kubernetes}', 5);
  expect('haproxy_backend_sessions_total{proxy=kubernetes}', 120);
  expect('haproxy_backend_connection_errors_total{proxy=kubernetes}', 4);

  expect('cluster_endpoint_build_info{version=0.1.0}', 1);
  expect('cluster_endpoint_config_last_reload_successful{}', 1);
  expect('cluster_endpoint_config_last_reload_success_timestamp_seconds{}', (NOW - 600_000) / 1000);
  assert.equal(samples.has('cluster_endpoint_vip_role{address=127.0.0.10,role=master}'), false, 'no VIP, no VIP series');

  // Types follow the names: *_total are counters.
  assert.equal(types.get('haproxy_server_sessions_total'), 'counter');
  assert.equal(types.get('haproxy_server_status'), 'gauge');
  for (const [name, type] of types) if (name.endsWith('_total') && !name.startsWith('nodejs_')) assert.equal(type, 'counter', name);
  // Process metrics are in the private registry.
  assert.ok(types.has('process_cpu_seconds_total'));
  assert.ok(types.has('nodejs_eventloop_lag_seconds'));
});

test('a scrape reflects the current snapshot: reload failure, VIP, removed servers disappear', async () => {
  const metrics = createAdminMetrics({ processMetrics: false });
  const snapshot = sampleSnapshot();
  snapshot.lastReload = { at: NOW - 5000, ok: false, message: 'endpoint.yaml is invalid', problems: ['listeners[0].port: 70000 is out of range'] };
  snapshot.reloads = { ok: 3, failed: 1 };
  snapshot.vip = { address: '127.0.0.10', prefixLength: 24, interface: 'lo', self: 'lb-1', role: 'master', holder: 'lb-1', priority: 150, effectivePriority: 100, transitions: [{ at: NOW - 9000, from: 'backup', to: 'master', reason: 'peer silent' }], transitionsTotal: 7, advertsDropped: { auth: 3, replay: 0 } };
  let { samples } = parseExposition(await metrics.scrape(snapshot));
  assert.equal(samples.get('cluster_endpoint_config_last_reload_successful{}'), 0);
  assert.equal(samples.get('cluster_endpoint_config_last_reload_attempt_timestamp_seconds{}'), (NOW - 5000) / 1000);
  assert.equal(samples.get('cluster_endpoint_config_reloads_total{result=failure}'), 1);
  assert.equal(samples.get('cluster_endpoint_config_reloads_total{result=success}'), 3);
  assert.equal(samples.get('cluster_endpoint_vip_role{address=127.0.0.10,role=master}'), 1);
  assert.equal(samples.get('cluster_endpoint_vip_role{address=127.0.0.10,role=backup}'), 0);
  assert.equal(samples.get('cluster_endpoint_vip_transitions_total{address=127.0.0.10}'), 7);
  assert.equal(samples.get('cluster_endpoint_vip_effective_priority{address=127.0.0.10}'), 100);
  assert.equal(samples.get('cluster_endpoint_vip_adverts_dropped_total{address=127.0.0.10,reason=auth}'), 3);

  snapshot.listeners[0].servers.splice(1, 1); // cp-02 left the spec
  snapshot.listeners[0].servers[0].totalConnections = 71;
  ({ samples } = parseExposition(await metrics.scrape(snapshot)));
  assert.equal(samples.has('haproxy_server_sessions_total{proxy=kubernetes,server=cp-02}'), false);
  assert.equal(samples.get('haproxy_server_sessions_total{proxy=kubernetes,server=cp-01}'), 71);
});

test('concurrent scrapes each see their own snapshot', async () => {
  const metrics = createAdminMetrics({ processMetrics: false });
  const snapshots = [1, 2, 3, 4, 5].map((n) => {
    const s = sampleSnapshot();
    s.listeners[0].activeConnections = n;
    s.listeners[0].totalConnections = n * 100;
    return s;
  });
  const texts = await Promise.all(snapshots.map((s) => metrics.scrape(s)));
  texts.forEach((text, i) => {
    const { samples } = parseExposition(text);
    assert.equal(samples.get('haproxy_frontend_current_sessions{proxy=kubernetes}'), i + 1);
    assert.equal(samples.get('haproxy_frontend_sessions_total{proxy=kubernetes}'), (i + 1) * 100);
  });
});

test('haproxyServerState follows promex: maint wins, up+drain is DRAIN, not up is DOWN', () => {
  const rows: Array<[string, string, string]> = [
    ['up', 'ready', 'UP'], ['up', 'drain', 'DRAIN'], ['up', 'maint', 'MAINT'],
    ['down', 'ready', 'DOWN'], ['down', 'drain', 'DOWN'], ['down', 'maint', 'MAINT'],
    ['checking', 'ready', 'DOWN'], ['checking', 'maint', 'MAINT'],
  ];
  for (const [state, adminState, expected] of rows) {
    assert.equal(haproxyServerState({ state, adminState } as never), expected, `${state}/${adminState}`);
  }
});

test('every registered metric is documented in docs/metrics.md with its type', async () => {
  const doc = await readFile(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
  const metrics = createAdminMetrics();
  const process = metrics.registry.getMetricsAsArray().map((m) => ({ name: m.name, type: (m as unknown as { type: string }).type }));
  assert.ok(process.length > 10, 'process metrics are registered too');
  const registered = [...METRICS.map((m) => ({ name: m.name, type: m.type })), ...process];
  const missing = registered.filter((m) => !new RegExp(`\\|\\s*\`${m.name}\`\\s*\\|\\s*${m.type}\\s*\\|`).test(doc));
  assert.deepEqual(missing.map((m) => `${m.name} (${m.type})`), [], 'document these in docs/metrics.md as "| `name` | type | ..."');
  // And nothing documented that does not exist.
  const names = new Set(registered.map((m) => m.name));
  const documented = [...doc.matchAll(/^\|\s*`([a-z_:]+)`\s*\|/gm)].map((m) => m[1]);
  assert.deepEqual(documented.filter((n) => !names.has(n)), []);
});
