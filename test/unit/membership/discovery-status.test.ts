// Discovery in the one snapshot: the status page, `cluster-endpoint status` and /metrics say where the members come
// from and, while the API cannot be reached, that the last known ones are kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAdminMetrics } from '../../../src/runtime/admin/metrics.js';
import { renderStatusPage } from '../../../src/runtime/admin/status-page.js';
import { formatStatusText } from '../../../src/runtime/admin/status-table.js';
import type { DiscoverySnapshot } from '../../../src/runtime/snapshot.js';
import { NOW, sampleSnapshot } from '../admin/fixture.js';

const failing: DiscoverySnapshot = {
  source: 'kubernetes', state: 'failing', stateSince: NOW - 90_000, lastSyncAt: NOW - 95_000,
  lastError: 'https://10.0.0.11:6443: no answer within 10s', server: 'https://10.0.0.11:6443', resourceVersion: '812',
  nodes: [{ name: 'cp-01', address: '10.0.0.11' }, { name: 'ip-10-0-0-14', address: '10.0.0.14' }], lists: 2, errors: 7,
};

test('the status page and the status table show the discovery state, the nodes and why they are kept', () => {
  const snapshot = { ...sampleSnapshot(), discovery: failing };
  const page = renderStatusPage(snapshot);
  assert.match(page, /data-discovery="failing"/);
  assert.match(page, /ip-10-0-0-14 10\.0\.0\.14/);
  assert.match(page, /no answer within 10s/);
  const text = formatStatusText(snapshot);
  assert.match(text, /discovery kubernetes: failing for 1m ?30s?, 2 node\(s\) via https:\/\/10\.0\.0\.11:6443.*keeping the last known nodes/);
  assert.doesNotMatch(formatStatusText(sampleSnapshot()), /discovery/, 'nothing without discovery');
});

test('/metrics: discovery_up 0 while failing, the node count, errors and the last sync', async () => {
  const metrics = createAdminMetrics({ processMetrics: false });
  const text = await metrics.scrape({ ...sampleSnapshot(), discovery: failing });
  assert.match(text, /cluster_endpoint_discovery_up\{source="kubernetes"\} 0/);
  assert.match(text, /cluster_endpoint_discovery_nodes\{source="kubernetes"\} 2/);
  assert.match(text, /cluster_endpoint_discovery_errors_total\{source="kubernetes"\} 7/);
  assert.match(text, new RegExp(`cluster_endpoint_discovery_last_sync_timestamp_seconds\\{source="kubernetes"\\} ${(NOW - 95_000) / 1000}`));
  const synced = await metrics.scrape({ ...sampleSnapshot(), discovery: { ...failing, state: 'synced' } });
  assert.match(synced, /cluster_endpoint_discovery_up\{source="kubernetes"\} 1/);
  assert.doesNotMatch(await metrics.scrape(sampleSnapshot()), /^cluster_endpoint_discovery_\w+\{/m, "no series without discovery");
});
