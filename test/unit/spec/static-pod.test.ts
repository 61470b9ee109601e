// The spec check for serve on the control-plane nodes (staticPod): kube-apiserver holds 6443 on every address
// of a node, so only kernel mode bound to a floating address (VIP or BGP) gets past it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseSpec } from '../../../src/spec/load.js';
import { NODE_PORTS } from '../../../src/spec/rules/static-pod.js';

const VIP = '10.10.0.100';
const nodes = [{ name: 'cp-01', address: '10.10.0.11' }, { name: 'cp-02', address: '10.10.0.12' }, { name: 'cp-03', address: '10.10.0.13' }];
const peers = nodes.map((n, i) => ({ ...n, priority: 150 - i * 10 }));

/** A spec that passes: kernel mode bound to the VIP, every node a peer, the key in the file. */
function good(): Record<string, any> {
  return {
    cluster: { name: 'nodes' },
    endpoint: VIP,
    controlPlane: nodes,
    balancer: { mode: 'kernel', bind: VIP },
    vip: { address: VIP, authKey: 'static-pod-rule-test-key', peers },
    staticPod: { image: 'registry.example.com/cluster-endpoint:0.1.0' },
  };
}

function errors(raw: unknown) {
  return parseSpec(stringify(raw), 'endpoint.yaml').problems.filter((p) => p.severity === 'error');
}

test('a static pod in kernel mode bound to the VIP, every node a peer, is valid', () => {
  assert.deepEqual(errors(good()), []);
  const routed: Record<string, any> = { ...good(), bgp: { localAsn: 65001, peers: [{ name: 'tor', address: '10.10.0.1', asn: 65000 }] } };
  delete routed.vip;
  assert.deepEqual(errors(routed), [], 'with BGP the endpoint is the floating address');
});

test('what the static-pod check refuses, where, and what it leads to', () => {
  const cases: Array<{ name: string; change: (s: Record<string, any>) => void; path: string; message: RegExp; hint: RegExp }> = [
    { name: 'the proxy data plane (the default)', change: (s) => { delete s.balancer.mode; }, path: 'balancer.mode', message: /cannot use the proxy data plane: .*kubernetes 6443 \(kube-apiserver\)/, hint: /balancer\.mode: kernel/ },
    { name: 'the proxy on a port nothing holds', change: (s) => { s.balancer.mode = 'proxy'; s.listeners = [{ name: 'kubernetes', port: 7443, targetPort: 6443, targets: 'controlPlane' }]; }, path: 'balancer.mode', message: /kube-apiserver holds its port on every address/, hint: /kernel/ },
    { name: 'no floating address', change: (s) => { delete s.vip; }, path: 'staticPod', message: /needs a floating address/, hint: /vip/ },
    { name: 'bind on every address', change: (s) => { delete s.balancer.bind; }, path: 'balancer.bind', message: /must be the floating address 10\.10\.0\.100, not 0\.0\.0\.0: .*node's own address/, hint: /balancer\.bind: 10\.10\.0\.100/ },
    { name: 'bind on a node address', change: (s) => { s.balancer.bind = '10.10.0.11'; }, path: 'balancer.bind', message: /must be the floating address/, hint: /10\.10\.0\.100/ },
    { name: 'the admin port on the kubelet\'s', change: (s) => { s.balancer.admin = '127.0.0.1:10250'; }, path: 'balancer.admin', message: /10250 is held by the kubelet/, hint: /8404/ },
    { name: 'the admin port on the API server\'s', change: (s) => { s.balancer.admin = '127.0.0.1:6443'; }, path: 'balancer.admin', message: /6443 is held by kube-apiserver/, hint: /free port/ },
    { name: 'a node that is not a VIP peer', change: (s) => { s.vip.peers = s.vip.peers.slice(0, 2); }, path: 'vip.peers', message: /controlPlane\[2\] \(cp-03, 10\.10\.0\.13\) is not a peer/, hint: /every control-plane node/ },
    { name: 'the VIP key only in the environment', change: (s) => { delete s.vip.authKey; }, path: 'vip.authKey', message: /CLUSTER_ENDPOINT_VIP_KEY in this shell does not/, hint: /vip\.authKey/ },
  ];
  for (const c of cases) {
    const spec = good();
    c.change(spec);
    const found = errors(spec).find((p) => p.path === c.path);
    assert.ok(found, `${c.name}: expected an error at ${c.path}, got ${JSON.stringify(errors(spec))}`);
    assert.match(found.message, c.message, c.name);
    assert.match(found.hint ?? '', c.hint, c.name);
  }
});

test('without staticPod the same specs are the LB hosts\' business: no static-pod problem', () => {
  const spec = good();
  delete spec.staticPod;
  spec.balancer = { mode: 'proxy', admin: '127.0.0.1:10250' };
  assert.deepEqual(errors(spec).map((p) => p.path), []);
});

test('any listener or admin port a node holds is refused for the proxy and for the admin surface', () => {
  const held = [...NODE_PORTS.map((p) => p.port), 6443];
  fc.assert(fc.property(fc.constantFrom(...held), fc.integer({ min: 1024, max: 65535 }), (port, free) => {
    const spec = good();
    spec.balancer.admin = `127.0.0.1:${port}`;
    assert.ok(errors(spec).some((p) => p.path === 'balancer.admin'), `admin on ${port}`);
    const proxy = good();
    proxy.balancer = { mode: 'proxy', bind: VIP };
    proxy.listeners = [{ name: 'kubernetes', port, targetPort: 6443, targets: 'controlPlane' }];
    const found = errors(proxy).find((p) => p.path === 'balancer.mode');
    assert.ok(found, `proxy on ${port}`);
    if (!held.includes(free)) {
      spec.balancer.admin = `127.0.0.1:${free}`;
      assert.ok(!errors(spec).some((p) => p.path === 'balancer.admin'), `admin on free port ${free}`);
    }
  }), { numRuns: 60 });
});
