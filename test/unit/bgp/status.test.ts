// The bgp part of the snapshot on the status page, in `status` text and in /metrics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAdminMetrics } from '../../../src/runtime/admin/metrics.js';
import { renderStatusBody } from '../../../src/runtime/admin/status-page.js';
import { formatStatusText } from '../../../src/runtime/admin/status-table.js';
import type { StatusSnapshot } from '../../../src/runtime/snapshot.js';
import { NOW, sampleSnapshot } from '../admin/fixture.js';

function withBgp(): StatusSnapshot {
  return {
    ...sampleSnapshot(),
    bgp: {
      prefix: '10.96.0.10/32', localAsn: 65010, routerId: '10.0.1.11', speaker: 'running', speakerRestarts: 1, healthy: true, announced: true, transitions: 3,
      peers: [
        { name: 'tor-1', address: '10.0.1.1', asn: 65000, state: 'established', stateSince: NOW - 60_000, routeAnnounced: true, bfd: 'up', sessionDrops: 2 },
        { name: 'tor-2', address: '10.0.2.1', asn: 65000, state: 'active', stateSince: NOW - 5000, lastError: 'Bad peer AS: <65001>', routeAnnounced: false, sessionDrops: 0 },
      ],
    },
  };
}

test('status page: a BGP section with each session, its BFD state, the route and the last error (escaped)', () => {
  const html = renderStatusBody(withBgp());
  assert.match(html, /<section class="vip bgp" data-bgp="10\.96\.0\.10\/32">/);
  assert.match(html, /data-route="announced"/);
  assert.match(html, /<tr data-peer="tor-1">.*badge session-established.*badge bfd-up.*data-announced="true"/);
  assert.match(html, /<tr data-peer="tor-2">.*data-announced="false">withdrawn.*Bad peer AS: &lt;65001&gt;/);
  assert.match(html, /bird running, 1 restart\(s\)/);
});

test('status text: one BGP line', () => {
  assert.match(formatStatusText(withBgp()), /^BGP 10\.96\.0\.10\/32 AS65010: announced \(balancer healthy, bird running\); tor-1 10\.0\.1\.1 established bfd up route announced; tor-2 10\.0\.2\.1 active \(Bad peer AS: <65001>\)$/m);
});

test('metrics: session up, route announced and session drops per peer', async () => {
  const text = await createAdminMetrics({ processMetrics: false }).scrape(withBgp());
  assert.match(text, /^cluster_endpoint_bgp_session_up\{peer="tor-1",address="10\.0\.1\.1"\} 1$/m);
  assert.match(text, /^cluster_endpoint_bgp_session_up\{peer="tor-2",address="10\.0\.2\.1"\} 0$/m);
  assert.match(text, /^cluster_endpoint_bgp_route_announced\{peer="tor-1",prefix="10\.96\.0\.10\/32"\} 1$/m);
  assert.match(text, /^cluster_endpoint_bgp_route_announced\{peer="tor-2",prefix="10\.96\.0\.10\/32"\} 0$/m);
  assert.match(text, /^cluster_endpoint_bgp_session_drops_total\{peer="tor-1",address="10\.0\.1\.1"\} 2$/m);
  const without = await createAdminMetrics({ processMetrics: false }).scrape(sampleSnapshot());
  assert.doesNotMatch(without, /cluster_endpoint_bgp_session_up\{/);
});
