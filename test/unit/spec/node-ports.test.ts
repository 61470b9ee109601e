import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSpec } from '../../../src/spec/load.js';

const BASE = `cluster: { name: demo }
endpoint: 127.0.0.1
controlPlane:
  - { name: cp-01, address: 127.0.0.1, ports: { kubernetes: 7443, talos: 7000 } }
  - { name: cp-02, address: 127.0.0.1, ports: { kubernetes: 7444 } }
  - { name: cp-03, address: 127.0.0.1 }
`;

function problemsOf(text: string) {
  const result = parseSpec(text, 'endpoint.yaml');
  assert.equal(result.spec, undefined, 'spec should be invalid');
  return result.problems;
}

test('node ports: an override sets that node\'s server port; the others keep targetPort', () => {
  const { spec, problems } = parseSpec(BASE, 'endpoint.yaml');
  assert.ok(spec, JSON.stringify(problems));
  const ports = (listener: string) => spec.listeners.find((l) => l.name === listener)?.servers.map((s) => `${s.name}:${s.port}`);
  assert.deepEqual(ports('kubernetes'), ['cp-01:7443', 'cp-02:7444', 'cp-03:6443']);
  assert.deepEqual(ports('talos'), ['cp-01:7000', 'cp-02:50000', 'cp-03:50000']);
  assert.equal(spec.listeners.find((l) => l.name === 'kubernetes')?.targetPort, 6443, 'the listener keeps its targetPort');
  assert.deepEqual(spec.controlPlane[0].ports, { kubernetes: 7443, talos: 7000 });
  assert.equal(spec.controlPlane[2].ports, undefined);
});

test('node ports: explicit listeners are matched by name', () => {
  const text = `${BASE.replace('ports: { kubernetes: 7443, talos: 7000 }', 'ports: { api: 7443 }').replace('ports: { kubernetes: 7444 }', 'ports: { api: 7444 }')}listeners:
  - { name: api, port: 6443, targetPort: 6443, targets: controlPlane }
`;
  const { spec, problems } = parseSpec(text, 'endpoint.yaml');
  assert.ok(spec, JSON.stringify(problems));
  assert.deepEqual(spec.listeners[0].servers.map((s) => s.port), [7443, 7444, 6443]);
});

test('node ports: an unknown listener name is an error with the path and a did-you-mean', () => {
  const problems = problemsOf(BASE.replace('kubernetes: 7444', 'kubernets: 7444'));
  const problem = problems.find((p) => p.path === 'controlPlane[1].ports.kubernets');
  assert.ok(problem, JSON.stringify(problems, null, 1));
  assert.equal(problem.code, 'SPEC_REFERENCE');
  assert.match(problem.message, /no listener named "kubernets" \(did you mean "kubernetes"\?\)/);
  assert.match(problem.hint ?? '', /rename it to kubernetes/);
  assert.equal(problem.line, 5, 'points at the node\'s line');
});

test('node ports: a name far from every listener lists the listeners of the group', () => {
  const problems = problemsOf(BASE.replace('kubernetes: 7444', 'etcd: 2379'));
  const problem = problems.find((p) => p.path === 'controlPlane[1].ports.etcd');
  assert.ok(problem, JSON.stringify(problems, null, 1));
  assert.match(problem.message, /no listener named "etcd"$/);
  assert.match(problem.hint ?? '', /listeners that target controlPlane: kubernetes, talos/);
});

test('node ports: a worker listener on a control-plane node is an error', () => {
  const text = `${BASE.replace('kubernetes: 7444', 'talos-workers: 50010')}workers:
  - { name: wk-01, address: 127.0.0.2 }
`;
  const problems = problemsOf(text);
  const problem = problems.find((p) => p.path === 'controlPlane[1].ports.talos-workers');
  assert.ok(problem, JSON.stringify(problems, null, 1));
  assert.match(problem.message, /listener "talos-workers" targets workers, not controlPlane/);
  assert.ok(problem.hint && problem.hint.length > 5);
});

test('node ports: a worker may override the worker listener, not a control-plane one', () => {
  const good = `${BASE}workers:\n  - { name: wk-01, address: 127.0.0.2, ports: { talos-workers: 50010 } }\n`;
  const { spec, problems } = parseSpec(good, 'endpoint.yaml');
  assert.ok(spec, JSON.stringify(problems));
  assert.deepEqual(spec.listeners.find((l) => l.name === 'talos-workers')?.servers.map((s) => s.port), [50010]);
  const bad = problemsOf(`${BASE}workers:\n  - { name: wk-01, address: 127.0.0.2, ports: { kubernetes: 7443 } }\n`);
  assert.ok(bad.some((p) => p.path === 'workers[0].ports.kubernetes' && /targets controlPlane, not workers/.test(p.message)), JSON.stringify(bad, null, 1));
});

test('node ports: a port out of range is a schema error at the key', () => {
  const problems = problemsOf(BASE.replace('kubernetes: 7444', 'kubernetes: 70000'));
  assert.ok(problems.some((p) => p.path === 'controlPlane[1].ports.kubernetes' && /70000 is out of range/.test(p.message)), JSON.stringify(problems, null, 1));
});
