// serve as a static pod on the control-plane nodes: render talos (machine.pods + the spec as a machine file) and
// render kubeadm (/etc/kubernetes/manifests), checked against the Talos machine-config schemas and the Kubernetes
// API schema, for the golden cases and for generated specs.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { kubeadmRenderer } from '../../../src/render/kubeadm/index.js';
import { talosRenderer } from '../../../src/render/talos/index.js';
import { TALOS_SPEC_DIR } from '../../../src/render/talos/static-pod.js';
import { parseSpec } from '../../../src/spec/load.js';
import { podProblems } from '../../helpers/kube-schema.js';
import { GOLDEN_CONTEXT, assertGolden, loadSpec, renderError, specText } from './golden.js';

// Unmodified copies of the Talos machine-config JSON Schemas (MPL-2.0, see test/fixtures/talos-schemas/README.md).
function compile(version: 'v1.11' | 'v1.13'): ValidateFunction {
  const schema = JSON.parse(readFileSync(new URL(`../../fixtures/talos-schemas/${version}/config.schema.json`, import.meta.url), 'utf8'));
  const ajv = new Ajv2020({ strict: false, allErrors: true, formats: { uri: (value: string) => URL.canParse(value) } });
  return ajv.compile(schema);
}
const TALOS = { 'v1.11': compile('v1.11'), 'v1.13': compile('v1.13') };

function talosProblems(text: string): string[] {
  const problems: string[] = [];
  for (const [index, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0) { problems.push(`document ${index}: YAML: ${doc.errors[0].message}`); continue; }
    for (const [version, validate] of Object.entries(TALOS)) {
      if (!validate(doc.toJS())) problems.push(`${version} document ${index}: ${validate.errors?.map((e) => `${e.instancePath} ${e.message}`).slice(0, 5).join('; ')}`);
    }
  }
  return problems;
}

const contextFor = (caseName: string) => ({ ...GOLDEN_CONTEXT, specText: specText(caseName) });

/** Everything a rendered static pod must be, whatever the spec: valid, minimal, pointed at the spec. */
function assertPod(pod: Record<string, any>, expect: { image: string; specDir: string; bgp: boolean; vip: boolean }): void {
  assert.deepEqual(podProblems(pod), [], 'the pod is a valid v1 Pod');
  const { spec } = pod;
  assert.equal(spec.hostNetwork, true, 'host network: serve holds the node\'s VIP and writes its nftables table');
  const [container] = spec.containers;
  assert.equal(container.image, expect.image);
  assert.deepEqual(container.args, ['serve', '-c', '/etc/cluster-endpoint/endpoint.yaml']);
  const security = container.securityContext;
  assert.equal(security.privileged, false);
  assert.equal(security.allowPrivilegeEscalation, false);
  assert.equal(security.readOnlyRootFilesystem, true);
  assert.deepEqual(security.capabilities.drop, ['ALL']);
  const wanted = ['NET_ADMIN', ...(expect.vip ? ['NET_RAW'] : []), ...(expect.bgp ? ['NET_BIND_SERVICE'] : [])];
  assert.deepEqual(security.capabilities.add, wanted, 'only the capabilities its engines need');
  const specVolume = spec.volumes.find((v: any) => v.name === 'spec');
  assert.deepEqual(specVolume.hostPath, { path: expect.specDir, type: 'Directory' });
  assert.ok(container.volumeMounts.some((m: any) => m.name === 'spec' && m.mountPath === '/etc/cluster-endpoint' && m.readOnly === true));
}

describe('render talos with staticPod', () => {
  for (const caseName of ['static-pod', 'static-pod-bgp']) {
    const spec = loadSpec(specText(caseName));
    const files = talosRenderer.render(spec, contextFor(caseName));

    it(`${caseName}: matches the golden file`, () => assertGolden(caseName, 'talos', files));

    it(`${caseName}: one patch for every node, valid against the Talos v1.11 and v1.13 schemas, with the pod and the spec as a machine file`, () => {
      assert.deepEqual(files.map((f) => f.path), ['static-pod.yaml']);
      assert.equal(files[0].secret, true, 'the spec inside carries the VIP key');
      assert.deepEqual(talosProblems(files[0].contents), []);
      const [patch] = parseAllDocuments(files[0].contents).map((d) => d.toJS() as Record<string, any>);
      const [file] = patch.machine.files;
      assert.equal(file.path, `${TALOS_SPEC_DIR}/endpoint.yaml`);
      assert.ok(file.path.startsWith('/var/'), 'Talos creates machine files only under /var');
      assert.equal(file.permissions, 0o600);
      assert.equal(file.content, specText(caseName), 'the spec travels as written');
      assert.ok(parseSpec(file.content, 'node').spec, 'and the node\'s serve accepts it');
      assert.equal(patch.machine.pods.length, 1);
      assertPod(patch.machine.pods[0], { image: spec.staticPod!.image, specDir: TALOS_SPEC_DIR, bgp: spec.bgp !== undefined, vip: spec.vip !== undefined });
      assert.equal(patch.cluster.controlPlane.endpoint, `https://${spec.endpoint}:6443`);
      assert.ok(patch.cluster.apiServer.certSANs.includes(spec.endpoint));
      assert.equal(patch.machine.network, undefined, 'no Talos VIP: serve holds the address, two owners would fight');
      assert.doesNotMatch(files[0].contents, /Layer2VIPConfig|vip:\s*\n\s*ip:/);
    });
  }
});

describe('render kubeadm', () => {
  for (const caseName of ['static-pod', 'static-pod-bgp']) {
    const spec = loadSpec(specText(caseName));
    const files = kubeadmRenderer.render(spec, contextFor(caseName));

    it(`${caseName}: matches the golden files`, () => assertGolden(caseName, 'kubeadm', files));

    it(`${caseName}: a valid static pod manifest, and the spec it reads (0600)`, () => {
      assert.deepEqual(files.map((f) => f.path), ['cluster-endpoint-pod.yaml', 'endpoint.yaml']);
      assertPod(parse(files[0].contents), { image: spec.staticPod!.image, specDir: '/etc/cluster-endpoint', bgp: spec.bgp !== undefined, vip: spec.vip !== undefined });
      assert.equal(files[0].secret, undefined, 'the manifest holds no secret');
      assert.equal(files[1].contents, specText(caseName));
      assert.equal(files[1].secret, true);
    });
  }

  it('refuses a spec without staticPod, saying what to add', () => {
    const error = renderError(() => kubeadmRenderer.render(loadSpec(specText('talos-documents')), { ...GOLDEN_CONTEXT, specText: specText('talos-documents') }));
    assert.equal(error.code, 'RENDER');
    assert.match(error.message, /staticPod/);
    assert.match(error.hint ?? '', /staticPod: \{ image/);
  });
});

describe('static pods for generated specs', () => {
  const node = fc.record({ third: fc.integer({ min: 1, max: 254 }), last: fc.integer({ min: 2, max: 250 }) });
  const specs = fc.record({
    nodes: fc.uniqueArray(node, { minLength: 1, maxLength: 5, selector: (n) => `${n.third}.${n.last}` }),
    announce: fc.constantFrom('vip' as const, 'bgp' as const),
    delay: fc.integer({ min: 0, max: 600 }),
    image: fc.constantFrom('cluster-endpoint:0.1.0', 'registry.example.com:5000/ops/cluster-endpoint@sha256:' + 'a'.repeat(64), 'localhost/ce:dev'),
    workers: fc.boolean(),
  }).map(({ nodes, announce, delay, image, workers }) => {
    const endpoint = '10.200.0.100';
    const controlPlane = nodes.map((n, i) => ({ name: `cp-${i + 1}`, address: `10.200.${n.third}.${n.last}` }));
    return {
      cluster: { name: 'gen' },
      endpoint,
      controlPlane,
      ...(workers ? { workers: [{ name: 'wk-1', address: '10.201.0.5' }] } : {}),
      deregistrationDelay: `${delay}s`,
      balancer: { mode: 'kernel', bind: endpoint },
      ...(announce === 'vip'
        ? { vip: { address: endpoint, prefixLength: 8, authKey: 'generated-static-pod-key', peers: controlPlane.map((n, i) => ({ name: n.name, address: n.address, priority: 200 - i })) } }
        : { bgp: { localAsn: 65001, peers: [{ name: 'tor', address: '10.200.0.1', asn: 65000 }] } }),
      staticPod: { image },
    };
  });

  it('every valid static-pod spec renders a Talos patch and a kubeadm manifest that the schemas accept', () => {
    fc.assert(fc.property(specs, (raw) => {
      const text = stringify(raw);
      const result = parseSpec(text, 'gen.yaml');
      assert.ok(result.spec, JSON.stringify(result.problems.filter((p) => p.severity === 'error')));
      const context = { ...GOLDEN_CONTEXT, specText: text };
      const [talos] = talosRenderer.render(result.spec, context);
      assert.deepEqual(talosProblems(talos.contents), []);
      const pod = (parse(talos.contents) as Record<string, any>).machine.pods[0];
      assertPod(pod, { image: raw.staticPod.image, specDir: TALOS_SPEC_DIR, bgp: 'bgp' in raw, vip: 'vip' in raw });
      assert.ok(pod.spec.terminationGracePeriodSeconds * 1000 > result.spec.deregistrationDelayMs, 'the kubelet waits for the drain');
      const [manifest] = kubeadmRenderer.render(result.spec, context);
      assertPod(parse(manifest.contents), { image: raw.staticPod.image, specDir: '/etc/cluster-endpoint', bgp: 'bgp' in raw, vip: 'vip' in raw });
    }), { numRuns: 40 });
  });
});
