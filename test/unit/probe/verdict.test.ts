import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planFromFlags, targets } from '../../../src/probe/plan.js';
import type { ProbeRow } from '../../../src/probe/run.js';
import { verdict } from '../../../src/probe/verdict.js';

const tlsOk = { ok: true, protocol: 'TLSv1.3', coversEndpoint: true, daysLeft: 300, sans: ['10.0.0.10'] };
const row = (over: Partial<ProbeRow>): ProbeRow => ({ role: 'endpoint', name: 'endpoint', address: '10.0.0.10', port: 6443, listener: 'kubernetes', kind: 'kubernetes', tcp: { ok: true, ms: 1 }, ...over });
const kube = (status: number) => ({ auth: 'anonymous' as const, readyz: { status }, version: { status: 200 } });

test('verdict table', () => {
  const table: Array<[string, ProbeRow[], boolean, RegExp | undefined]> = [
    ['all good', [row({ tls: tlsOk, kubernetes: kube(200) })], true, undefined],
    ['anonymous 401 is usable (credentials needed for readiness)', [row({ tls: tlsOk, kubernetes: kube(401) })], true, undefined],
    ['endpoint refuses', [row({ tcp: { ok: false, error: 'ECONNREFUSED' } })], false, /TCP connect failed \(ECONNREFUSED\)/],
    ['readyz 500', [row({ tls: tlsOk, kubernetes: { ...kube(500), readyz: { status: 500, body: '[-]etcd failed\nreadyz check failed' } } })], false, /\/readyz answered 500 \(readyz check failed\)/],
    ['endpoint not in SANs', [row({ tls: { ...tlsOk, coversEndpoint: false }, kubernetes: kube(200) })], false, /does not name 10\.0\.0\.10/],
    ['expired', [row({ tls: { ...tlsOk, daysLeft: -2 }, kubernetes: kube(200) })], false, /expired 2 day/],
    ['node down is only a warning', [row({ tls: tlsOk, kubernetes: kube(200) }), row({ role: 'node', name: 'cp-01', address: '10.0.0.11', tcp: { ok: false, error: 'ETIMEDOUT' } })], true, undefined],
    ['node cert without the endpoint is fatal', [row({ tls: tlsOk, kubernetes: kube(200) }), row({ role: 'node', name: 'cp-01', address: '10.0.0.11', tls: { ...tlsOk, coversEndpoint: false }, kubernetes: kube(200) })], false, /cp-01 .*does not name the endpoint/],
    ['talos call failed', [row({ listener: 'talos', kind: 'talos', port: 50000, tls: tlsOk, talos: { ok: false, error: 'gRPC status 16' } })], false, /Talos API version call failed/],
  ];
  for (const [name, rows, usable, reason] of table) {
    const v = verdict(rows);
    assert.equal(v.usable, usable, name);
    if (reason) assert.match(v.failures[0], reason, name);
  }
  assert.deepEqual(verdict([row({ tls: { ...tlsOk, daysLeft: 10 }, kubernetes: kube(200) })]).warnings, ['10.0.0.10:6443 (kubernetes): certificate expires in 10 day(s)']);
});

test('plan: endpoint on the listener port, nodes on the target port, kinds by name', () => {
  const plan = planFromFlags('api.example.com', [{ name: 'cp-01', address: '10.0.0.11' }], [{ name: 'kubernetes', port: 443, targetPort: 6443 }, { name: 'talos-workers', port: 50001, targetPort: 50000 }, { name: 'ssh', port: 22, targetPort: 22 }]);
  assert.deepEqual(targets(plan).map((t) => [t.name, t.address, t.port, t.kind]), [
    ['endpoint', 'api.example.com', 443, 'kubernetes'], ['cp-01', '10.0.0.11', 6443, 'kubernetes'],
    ['endpoint', 'api.example.com', 50001, 'talos'], ['cp-01', '10.0.0.11', 50000, 'talos'],
    ['endpoint', 'api.example.com', 22, 'tcp'], ['cp-01', '10.0.0.11', 22, 'tcp'],
  ]);
});
