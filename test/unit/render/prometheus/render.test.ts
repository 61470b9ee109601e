// `render prometheus`: golden files, promtool's own checks and unit tests of the alerting rules, and the
// dashboard's queries against what the exporter really writes on /metrics.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import fc from 'fast-check';
import { dashboardRows, dashboardUid } from '../../../../src/render/prometheus/dashboard.js';
import { DASHBOARD_FILE, prometheusRenderer, RULES_FILE } from '../../../../src/render/prometheus/index.js';
import { alertGroups } from '../../../../src/render/prometheus/rules.js';
import { createAdminMetrics } from '../../../../src/runtime/admin/metrics.js';
import type { StatusSnapshot } from '../../../../src/runtime/snapshot.js';
import { requireOrSkip } from '../../../helpers/cli.js';
import { sampleSnapshot } from '../../admin/fixture.js';
import { assertGolden, caseSpec, GOLDEN_CONTEXT } from '../golden.js';
import { metricNames, panelQueries, promtoolAvailable } from './queries.js';

const run = promisify(execFile);
const HERE = fileURLToPath(new URL('.', import.meta.url));
const CASES = ['bare-metal-tcp', 'dns-clients', 'bgp-bird'] as const;
/** Cases with promtool unit tests (<case>.promtool.yml here): together they exercise every alert. */
const PROMTOOL_CASES = ['bare-metal-tcp', 'bgp-bird'] as const;

for (const name of CASES) {
  test(`prometheus golden: ${name}`, () => {
    assertGolden(name, 'prometheus', prometheusRenderer.render(caseSpec(name), GOLDEN_CONTEXT));
  });
}

function renderTo(caseName: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ce-prom-'));
  for (const file of prometheusRenderer.render(caseSpec(caseName), GOLDEN_CONTEXT)) writeFileSync(join(dir, file.path), file.contents);
  return dir;
}

test('promtool check rules accepts the rules of every case', async (t) => {
  if (!requireOrSkip(t, await promtoolAvailable(), 'promtool is not installed (Debian: prometheus)')) return;
  for (const name of CASES) {
    const dir = renderTo(name);
    try {
      const { stdout } = await run('promtool', ['check', 'rules', join(dir, RULES_FILE)]);
      assert.match(stdout, /SUCCESS: \d+ rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

for (const name of PROMTOOL_CASES) {
  test(`promtool test rules (${name}): each alert fires on the series it is about, and only then`, async (t) => {
    if (!requireOrSkip(t, await promtoolAvailable(), 'promtool is not installed (Debian: prometheus)')) return;
    const dir = renderTo(name);
    try {
      copyFileSync(join(HERE, `${name}.promtool.yml`), join(dir, 'tests.yml'));
      const result = await run('promtool', ['test', 'rules', join(dir, 'tests.yml')]).catch((error: { stdout: string; stderr: string }) => error);
      assert.match(result.stdout, /SUCCESS/, `${result.stdout}\n${result.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`every alert of the rendered rules is covered by the promtool unit tests (${name})`, async () => {
    const { readFile } = await import('node:fs/promises');
    const tests = await readFile(join(HERE, `${name}.promtool.yml`), 'utf8');
    // bgp-bird's file covers the BGP group; bare-metal-tcp's every other group.
    const groups = alertGroups(caseSpec(name)).filter((g) => g.name.endsWith('-bgp') === (name === 'bgp-bird'));
    assert.ok(groups.length > 0);
    for (const group of groups) {
      for (const rule of group.rules) assert.match(tests, new RegExp(`alertname: ${rule.alert}\\b`), `${rule.alert} has a promtool test`);
    }
  });
}

test('two clusters never share a dashboard uid, and every uid is at most 40 characters', () => {
  fc.assert(fc.property(
    fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,60}[a-z0-9])?$/), fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,60}[a-z0-9])?$/),
    fc.ipV4(), fc.ipV4(),
    (a, b, ea, eb) => {
      const base = caseSpec('bare-metal-tcp');
      const one = dashboardUid({ ...base, cluster: { ...base.cluster, name: a }, endpoint: ea });
      const two = dashboardUid({ ...base, cluster: { ...base.cluster, name: b }, endpoint: eb });
      assert.ok(one.length <= 40 && /^[A-Za-z0-9_-]+$/.test(one), one);
      if (a !== b || ea !== eb) assert.notEqual(one, two);
    },
  ), { seed: 23, numRuns: 500 });
});

/** A snapshot with everything the exporter can show: a VIP, reload counts, downtime. */
function fullSnapshot(): StatusSnapshot {
  const snapshot = sampleSnapshot();
  snapshot.reloads = { ok: 2, failed: 1 };
  snapshot.vip = { address: '192.168.30.30', prefixLength: 24, interface: 'eth0', self: 'lb-01', role: 'master', priority: 100, effectivePriority: 100, transitions: [], transitionsTotal: 3, advertsDropped: { auth: 1 } };
  return snapshot;
}

test('every metric a dashboard query names is one the exporter writes on /metrics', async () => {
  const text = await createAdminMetrics().scrape(fullSnapshot());
  const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  for (const name of CASES) {
    const queries = panelQueries(dashboardRows(caseSpec(name)));
    assert.ok(queries.length > 10, `${name}: the dashboard has queries`);
    for (const { panel, expr } of queries) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `${panel}: ${expr} names a metric`);
      for (const metric of names) assert.ok(exported.has(metric), `${panel}: ${metric} is not exported on /metrics (${expr})`);
    }
  }
});

test('the dashboard JSON: unique panel ids, a 24-column grid, a VIP row only with a VIP, and every query parses (promtool)', async (t) => {
  for (const name of CASES) {
    const spec = caseSpec(name);
    const dashboard = JSON.parse(prometheusRenderer.render(spec, GOLDEN_CONTEXT).find((f) => f.path === DASHBOARD_FILE)!.contents) as { panels: Array<{ id: number; type: string; title: string; gridPos: { x: number; w: number } }> };
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const panel of dashboard.panels) assert.ok(panel.gridPos.x + panel.gridPos.w <= 24, panel.title);
    assert.equal(dashboard.panels.some((p) => p.type === 'row' && p.title.startsWith('VIP')), spec.vip !== undefined);
  }
  if (!requireOrSkip(t, await promtoolAvailable(), 'promtool is not installed (Debian: prometheus)')) return;
  // promtool parses recording rules with Prometheus' own PromQL parser: one rule per dashboard query.
  const dir = mkdtempSync(join(tmpdir(), 'ce-prom-q-'));
  try {
    const queries = panelQueries(dashboardRows(caseSpec('bare-metal-tcp')), { rateInterval: '1m' });
    writeFileSync(join(dir, 'queries.yml'), stringify({ groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr })) }] }));
    const { stdout } = await run('promtool', ['check', 'rules', join(dir, 'queries.yml')]);
    assert.match(stdout, new RegExp(`SUCCESS: ${queries.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
