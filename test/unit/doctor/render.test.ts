// "No finding on what render produces": every registered renderer's output, for several specs, checked by
// doctor together with the spec it came from (so no drift either). Renderers that cannot serve a spec (a missing section) are skipped for that spec; every renderer
// must run for at least one spec. Files doctor does not lint (shell scripts, zone files) are left out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectKind } from '../../../src/doctor/detect.js';
import { runDoctor } from '../../../src/doctor/run.js';
import { UserError } from '../../../src/errors.js';
import { RENDERERS } from '../../../src/render/index.js';
import { parseSpec } from '../../../src/spec/load.js';
import { ROOT } from '../../helpers/cli.js';

const SPECS = [
  'examples/endpoint.yaml',
  'test/fixtures/doctor/render/lb-pair.endpoint.yaml',
  'test/fixtures/doctor/render/talos-vip.endpoint.yaml',
  'test/fixtures/doctor/render/dns-aws.endpoint.yaml',
  'test/fixtures/doctor/render/bgp.endpoint.yaml',
  'test/fixtures/doctor/render/single-node.endpoint.yaml',
  'test/golden/render/static-pod/endpoint.yaml',
];

/** Findings on rendered files that only repeat a choice the spec made (and doctor already reports on the spec). */
const MIRRORS: Record<string, string> = { 'haproxy/tcp-only-check': 'spec/tcp-check-kubernetes', 'haproxy/quorum': 'spec/quorum' };

test('doctor finds nothing on the files every renderer produces', async (t) => {
  const ran = new Set<string>();
  const kinds = new Set<string>();
  for (const specPath of SPECS) {
    const text = readFileSync(join(ROOT, specPath), 'utf8');
    const { spec } = parseSpec(text, specPath);
    assert.ok(spec, `${specPath} is valid`);
    const specReport = await runDoctor([{ path: specPath, text }]);
    const specRules = new Set(specReport.findings.map((f) => f.rule));
    for (const [target, renderer] of Object.entries(RENDERERS)) {
      let files;
      try {
        files = renderer.render(spec, { version: '0.0.0-test', specName: 'endpoint.yaml', specText: text });
      } catch (error) {
        if (error instanceof UserError) continue; // this spec lacks what the target needs
        throw error;
      }
      ran.add(target);
      // A copy of the spec itself (render kubeadm ships it to the nodes) repeats the spec's own findings.
      const lintable = files.filter((f) => f.contents !== text && detectKind(f.path, f.contents) !== undefined).map((f) => ({ path: `${target}/${f.path}`, text: f.contents }));
      if (lintable.length === 0) continue;
      // With the spec beside them, the rendered files must not drift from it either.
      const report = await runDoctor([{ path: specPath, text }, ...lintable]);
      for (const f of report.files) kinds.add(f.kind);
      const unexpected = report.findings.filter((f) => f.file !== specPath && f.severity !== 'info' && !(MIRRORS[f.rule] && specRules.has(MIRRORS[f.rule])));
      assert.deepEqual(unexpected.map((f) => `${f.file}:${f.line} ${f.rule}: ${f.message}`), [], `render ${target} from ${specPath}`);
    }
  }
  t.diagnostic(`renderers run: ${[...ran].sort().join(', ')}; file kinds checked: ${[...kinds].sort().join(', ')}`);
  assert.deepEqual([...ran].sort(), Object.keys(RENDERERS).sort(), 'every renderer ran for at least one spec');
});

test('doctor compares addresses by value: an IPv6 endpoint and VIP spelt long in the spec are the ones render talos wrote (drift, certSANs)', async () => {
  // The URL parser doctor reads cluster.controlPlane.endpoint with writes fd42:0::fb back as fd42::fb.
  const text = `cluster: { name: six }
endpoint: "fd42:0:0::fb"
controlPlane:
  - { name: cp-01, address: "fd42::11" }
  - { name: cp-02, address: "fd42::12" }
  - { name: cp-03, address: "fd42::13" }
workers:
  - { name: wk-01, address: "fd42::21" }
vip: { address: "FD42:0::FB" }
`;
  const { spec } = parseSpec(text, 'endpoint.yaml');
  assert.ok(spec, 'the spec is valid');
  const files = RENDERERS.talos.render(spec, { version: '0.0.0-test', specName: 'endpoint.yaml', specText: text });
  const report = await runDoctor([{ path: 'endpoint.yaml', text }, ...files.map((f) => ({ path: `talos/${f.path}`, text: f.contents }))]);
  assert.deepEqual(report.findings.filter((f) => f.rule === 'talos/drift' || f.rule === 'talos/certsans-endpoint').map((f) => `${f.file}:${f.line} ${f.rule} ${f.message}`), []);
  // A different address is still drift.
  const moved = await runDoctor([{ path: 'endpoint.yaml', text: text.replace('endpoint: "fd42:0:0::fb"', 'endpoint: "fd42::fc"').replace('"FD42:0::FB"', '"fd42::fc"') }, ...files.map((f) => ({ path: `talos/${f.path}`, text: f.contents }))]);
  assert.ok(moved.findings.some((f) => f.rule === 'talos/drift' && /endpoint host/.test(f.message)), 'a changed endpoint is drift');
});
