// A real Prometheus scraping a real `serve` that holds a VIP, in network namespaces: every panel of the rendered
// Grafana dashboard returns data, every rendered alerting rule evaluates, the server that is down shows up as a
// pending alert, and every metric docs/metrics.md names appears on /metrics.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { dashboardRows } from '../../../src/render/prometheus/dashboard.js';
import { prometheusRenderer, RULES_FILE } from '../../../src/render/prometheus/index.js';
import { JOB } from '../../../src/render/prometheus/selector.js';
import { parseSpec } from '../../../src/spec/load.js';
import { CLI, requireOrSkip, ROOT } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/net.js';
import { panelQueries } from '../../unit/render/prometheus/queries.js';
import { canUseNamespaces, Topology } from '../vip/topology.js';

const run = promisify(execFile);
const ADMIN = '127.0.0.1:8404';
const PROMETHEUS = '127.0.0.1:9090';
const PORT = 6443;

async function has(command: string): Promise<boolean> {
  try { await run('sh', ['-c', `command -v ${command}`]); return true; } catch { return false; }
}

/** Metric names in the tables of docs/metrics.md ("| `name` | type | ..."). */
export function documentedMetrics(): string[] {
  const text = readFileSync(join(ROOT, 'docs/metrics.md'), 'utf8');
  const section = text.slice(text.indexOf('## Every metric'));
  return [...section.matchAll(/^\| `([a-z_:][a-z0-9_:]*)` \| (?:counter|gauge|histogram|summary) \|/gm)].map((m) => m[1]);
}

/**
 * One series per kind of event or pending request: registered (HELP/TYPE) from the start, a sample once there is
 * one (a dropped advertisement, an exhausted resource, a libuv request in flight at the scrape, a garbage
 * collection of that kind).
 */
const SAMPLED_WHEN_PRESENT = new Set(['cluster_endpoint_vip_adverts_dropped_total', 'cluster_endpoint_resource_exhausted_total', 'nodejs_active_requests', 'nodejs_gc_duration_seconds']);
/**
 * Series of a feature this test's spec does not use (flow sync needs kernel mode; BGP a bgp section; discovery a
 * discovery section): registered, no sample.
 */
const FEATURE_PREFIXES = ['cluster_endpoint_sync_', 'cluster_endpoint_bgp_', 'cluster_endpoint_discovery_'];

test('Prometheus scrapes serve (with a VIP): dashboard panels have data, rules evaluate, documented metrics are on /metrics', async (t) => {
  const ok = (await canUseNamespaces()) && (await has('prometheus')) && (await has('arping')) && (await has('curl'));
  if (!requireOrSkip(t, ok, 'needs root, network namespaces, prometheus, arping and curl')) return;
  const topology = await Topology.withHosts({ 'lb-01': 11, 'cp-01': 21, 'cp-02': 22 });
  const dir = mkdtempSync(join(tmpdir(), 'ce-prom-scrape-'));
  t.after(async () => { await topology.cleanup(); rmSync(dir, { recursive: true, force: true }); });
  const vip = topology.address(100);
  const lb = topology.host('lb-01');

  // cp-01 answers on the listener port; cp-02 runs nothing, so it is down (downtime, a pending alert).
  const cp = topology.spawn('cp-01', [process.execPath, '-e', `require('net').createServer((s) => { s.on('error', () => {}); s.end('cp-01\\n'); }).listen(${PORT}, '0.0.0.0', () => console.log('listening'));`]);
  await cp.waitForLine((l) => l.text === 'listening');

  const spec = (interval: string) => stringify({
    cluster: { name: 'scrape-test' },
    endpoint: vip,
    controlPlane: [{ name: 'cp-01', address: topology.host('cp-01').address }, { name: 'cp-02', address: topology.host('cp-02').address }],
    listeners: [{ name: 'kubernetes', port: PORT, targetPort: PORT, targets: 'controlPlane' }],
    healthCheck: { type: 'tcp', interval, timeout: '100ms', healthyThreshold: 1, unhealthyThreshold: 1 },
    deregistrationDelay: '1s',
    balancer: { bind: '0.0.0.0', admin: ADMIN, watch: false },
    vip: { address: vip, prefixLength: 24, interface: 'eth0', advertInterval: '100ms', authKey: 'scrape-test-vip-key', peers: [{ name: 'lb-01', address: lb.address, priority: 100 }] },
  });
  const specPath = join(dir, 'endpoint.yaml');
  writeFileSync(specPath, spec('200ms'));
  const serve = topology.spawn('lb-01', [process.execPath, '--import', 'tsx', CLI, 'serve', '-c', specPath, '--peer', 'lb-01'], { cwd: ROOT, group: true });
  const inLb = (args: string[]) => topology.exec('lb-01', args);
  const status = async () => JSON.parse(await inLb(['curl', '-sf', `http://${ADMIN}/api/status`]).catch(() => '{}')) as { vip?: { role: string }; listeners?: Array<{ servers: Array<{ name: string; state: string; lastCheck?: unknown }> }> };
  assert.ok(await waitFor(async () => (await status()).vip?.role === 'master', 20_000, 200), serve.lines.slice(-10).map((l) => l.text).join('\n'));

  // A reload (reload counters and timestamps), and connections through the VIP (sessions, bytes).
  writeFileSync(specPath, spec('250ms'));
  serve.child.kill('SIGHUP');
  await serve.waitForLine((l) => l.json?.event === 'reload' && l.json.ok === true, 15_000);
  const client = `let n = 0; const go = () => { const s = require('net').connect(${PORT}, '${vip}'); s.on('data', () => {}); s.on('error', () => {}); s.on('close', () => { if (++n < 5) go(); else console.log('done'); }); }; go();`;
  await topology.exec('cp-02', [process.execPath, '-e', client]);

  // Prometheus in the LB host's namespace, scraping serve every second, with the rendered rules.
  const parsed = parseSpec(spec('250ms'), specPath);
  assert.ok(parsed.spec, JSON.stringify(parsed.problems));
  for (const file of prometheusRenderer.render(parsed.spec, { version: 'test', specName: 'endpoint.yaml' })) writeFileSync(join(dir, file.path), file.contents);
  writeFileSync(join(dir, 'prometheus.yml'), stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [join(dir, RULES_FILE)],
    scrape_configs: [{ job_name: JOB, static_configs: [{ targets: [ADMIN] }] }],
  }));
  topology.spawn('lb-01', ['prometheus', `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=${PROMETHEUS}`], { group: true });
  const api = async (path: string, query?: string) => {
    const args = ['curl', '-sf', `http://${PROMETHEUS}${path}`];
    if (query !== undefined) args.push('--data-urlencode', `query=${query}`);
    return JSON.parse(await inLb(args).catch(() => '{}')) as { status?: string; data?: { result?: unknown[]; groups?: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }>; alerts?: Array<{ labels: Record<string, string>; state: string }> } };
  };
  const scrapes = async () => ((await api('/api/v1/query', `count_over_time(up{job="${JOB}"}[1m])`)).data?.result?.[0] as { value?: [number, string] } | undefined)?.value?.[1];
  assert.ok(await waitFor(async () => Number(await scrapes()) >= 5, 30_000, 500), 'Prometheus scraped serve 5 times');

  // Every query of every panel (the VIP row too) returns data.
  const queries = panelQueries(dashboardRows(parsed.spec), { rateInterval: '1m' });
  assert.ok(queries.some((q) => q.row.startsWith('VIP')), 'the dashboard has the VIP row');
  for (const query of queries) {
    const answer = await api('/api/v1/query', query.expr);
    assert.equal(answer.status, 'success', `${query.panel}: ${query.expr}`);
    assert.ok((answer.data?.result?.length ?? 0) > 0, `${query.panel}: no data for ${query.expr}`);
  }

  // Every rule evaluates against the real series; cp-02 being down is already a pending (or firing) alert.
  const rules = (await api('/api/v1/rules')).data?.groups?.flatMap((g) => g.rules) ?? [];
  assert.ok(rules.length >= 10, `rules loaded: ${rules.length}`);
  for (const rule of rules) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError ?? ''}`);
  assert.ok(await waitFor(async () => (await api('/api/v1/alerts')).data?.alerts?.some((a) => a.labels.alertname === 'ClusterEndpointServerDown' && a.labels.server === 'cp-02'), 10_000, 500), 'cp-02 down is an alert');

  // Every metric the docs name is on /metrics; all but the per-event counters have a sample already.
  const metrics = await inLb(['curl', '-sf', `http://${ADMIN}/metrics`]);
  const documented = documentedMetrics();
  assert.ok(documented.length > 50, `docs/metrics.md names ${documented.length} metrics`);
  for (const name of documented) {
    assert.match(metrics, new RegExp(`^# TYPE ${name} `, 'm'), `${name} is not registered on /metrics`);
    if (SAMPLED_WHEN_PRESENT.has(name) || FEATURE_PREFIXES.some((p) => name.startsWith(p))) continue;
    assert.match(metrics, new RegExp(`^${name}(_bucket|_sum|_count)?(\\{[^}]*\\})? `, 'm'), `${name} has no sample on /metrics`);
  }
});
