import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { apiServers, discoveredNodes, drift, listenersWith, nameFor } from '../../../src/membership/kubernetes/slices.js';
import { parseSpec } from '../../../src/spec/load.js';

const slice = (addresses: string[], extra: Record<string, unknown> = {}) => ({
  addressType: 'IPv4', ports: [{ name: 'https', port: 6443 }],
  endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready: true } })), ...extra,
});

test('apiServers: ready endpoints of IP slices, by address, once each, with the https port', () => {
  assert.deepEqual(apiServers([slice(['10.0.0.12', '10.0.0.11'])]), [{ address: '10.0.0.11', port: 6443 }, { address: '10.0.0.12', port: 6443 }]);
  assert.deepEqual(apiServers([{ ...slice(['10.0.0.11']), endpoints: [{ addresses: ['10.0.0.11'], conditions: { ready: false } }, { addresses: ['10.0.0.12'] }] }]),
    [{ address: '10.0.0.12', port: 6443 }], 'not ready is left out; unset ready is ready');
  assert.deepEqual(apiServers([slice(['10.0.0.11'], { ports: [{ name: 'metrics', port: 9 }, { name: 'https', port: 7443 }] })]), [{ address: '10.0.0.11', port: 7443 }]);
  assert.deepEqual(apiServers([slice(['api.example.com'], { addressType: 'FQDN' }), slice(['not-an-ip'])]), [], 'FQDN slices and non-addresses are skipped');
  assert.deepEqual(apiServers([slice(['10.0.0.11']), slice(['10.0.0.11'])]).length, 1, 'an address in two slices counts once');
  assert.deepEqual(apiServers([{ addressType: 'IPv6', ports: [{ port: 6443 }], endpoints: [{ addresses: ['fd00::11'] }] }]), [{ address: 'fd00::11', port: 6443 }]);
  assert.deepEqual(apiServers([{ addressType: 'IPv4', endpoints: null, ports: null }]), []);
});

test('discoveredNodes: the spec\'s node at an address keeps its name and weight; others are named after the address, uniquely', () => {
  const spec = [{ name: 'cp-01', address: '10.0.0.11', weight: 3 }, { name: 'ip-10-0-0-12', address: '10.9.9.9', weight: 1 }];
  const nodes = discoveredNodes([{ address: '10.0.0.11', port: 6443 }, { address: '10.0.0.12', port: 6443 }], spec);
  assert.deepEqual(nodes[0], spec[0]);
  assert.equal(nodes[1].address, '10.0.0.12');
  assert.notEqual(nodes[1].name, 'ip-10-0-0-12', 'a name the spec already uses is not taken twice');
  assert.equal(nameFor('fd00::5'), 'ip-fd00--5');
});

test('discovered names are valid spec node names and never collide, whatever the addresses', () => {
  const address = fc.oneof(fc.ipV4(), fc.ipV6());
  fc.assert(fc.property(fc.uniqueArray(address, { minLength: 1, maxLength: 20 }), (addresses) => {
    const nodes = discoveredNodes(addresses.map((a) => ({ address: a, port: 6443 })), []);
    assert.equal(new Set(nodes.map((n) => n.name)).size, nodes.length);
    for (const n of nodes) assert.match(n.name, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
    for (const n of nodes) assert.ok(n.name.length <= 63);
  }));
});

test('listenersWith: control-plane listeners get the nodes on their target ports (and overrides); workers\' listeners stay', () => {
  const { spec } = parseSpec(`cluster: { name: x }
endpoint: 10.0.0.100
controlPlane: [ { name: cp-01, address: 10.0.0.11, ports: { kubernetes: 7443 } } ]
workers: [ { name: wk-01, address: 10.0.1.11 } ]
`, 'x.yaml');
  assert.ok(spec);
  const nodes = discoveredNodes([{ address: '10.0.0.11', port: 6443 }, { address: '10.0.0.12', port: 6443 }], spec.controlPlane);
  const listeners = listenersWith(spec, nodes);
  const byName = new Map(listeners.map((l) => [l.name, l]));
  assert.deepEqual(byName.get('kubernetes')!.servers.map((s) => `${s.name} ${s.address}:${s.port}`), ['cp-01 10.0.0.11:7443', 'ip-10-0-0-12 10.0.0.12:6443']);
  assert.deepEqual(byName.get('talos')!.servers.map((s) => s.port), [50000, 50000]);
  assert.equal(byName.get('talos-workers'), spec.listeners.find((l) => l.name === 'talos-workers'), 'untouched');
});

test('drift: listed and not in the spec, in the spec and not listed', () => {
  const result = drift([{ address: '10.0.0.11', port: 6443 }, { address: '10.0.0.14', port: 6443 }], [{ name: 'cp-01', address: '10.0.0.11', weight: 1 }, { name: 'cp-02', address: '10.0.0.12', weight: 1 }]);
  assert.deepEqual(result.unlisted.map((s) => s.address), ['10.0.0.14']);
  assert.deepEqual(result.missing.map((n) => n.name), ['cp-02']);
});
