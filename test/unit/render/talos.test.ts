import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { parseAllDocuments } from 'yaml';
import { talosRenderer } from '../../../src/render/talos/index.js';
import { GOLDEN_CONTEXT, assertGolden, caseSpec, loadSpec, renderError, specText } from './golden.js';

// Unmodified copies of the Talos machine-config JSON Schemas (MPL-2.0, see test/fixtures/talos-schemas/README.md).
function compile(version: 'v1.11' | 'v1.13'): ValidateFunction {
  const schema = JSON.parse(readFileSync(new URL(`../../fixtures/talos-schemas/${version}/config.schema.json`, import.meta.url), 'utf8'));
  // strict: false because the schemas carry editor keywords (x-intellij-html-description, markdownDescription).
  const ajv = new Ajv2020({ strict: false, allErrors: true, formats: { uri: (value: string) => URL.canParse(value) } });
  return ajv.compile(schema);
}
const SCHEMAS = { 'v1.11': compile('v1.11'), 'v1.13': compile('v1.13') };

/**
 * Each YAML document of a patch against the root schema (a oneOf over every document kind).
 * A patch is partial, and that is fine here: v1alpha1.Config and its nested types declare no required
 * fields in either schema, while additionalProperties: false and the types still reject unknown or
 * misplaced keys; the network documents are complete documents.
 */
function schemaErrors(text: string, version: 'v1.11' | 'v1.13'): string[] {
  const errors: string[] = [];
  for (const [index, doc] of parseAllDocuments(text).entries()) {
    if ('errors' in doc && doc.errors.length > 0) { errors.push(`document ${index}: YAML: ${doc.errors[0].message}`); continue; }
    const validate = SCHEMAS[version];
    if (!validate(doc.toJS())) errors.push(`document ${index}: ${validate.errors?.map((e) => `${e.instancePath} ${e.message}`).slice(0, 5).join('; ')}`);
  }
  return errors;
}

const documentsOf = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Record<string, any>);

describe('render talos: legacy machine.network form (Talos <= 1.11)', () => {
  const spec = caseSpec('talos-legacy');
  const files = talosRenderer.render(spec, GOLDEN_CONTEXT);

  it('matches the golden files', () => assertGolden('talos-legacy', 'talos', files));

  it('writes one patch per control-plane node, valid against the v1.11 schema', () => {
    assert.deepEqual(files.map((f) => f.path), spec.controlPlane.map((n) => `${n.name}.yaml`));
    for (const file of files) assert.deepEqual(schemaErrors(file.contents, 'v1.11'), [], file.path);
  });

  it('gives each node its own address, the gateway route and the shared VIP', () => {
    for (const [index, node] of spec.controlPlane.entries()) {
      const [patch] = documentsOf(files[index].contents);
      const [device] = patch.machine.network.interfaces;
      assert.equal(device.interface, 'eth0');
      assert.deepEqual(device.addresses, [`${node.address}/24`]);
      assert.deepEqual(device.routes, [{ network: '0.0.0.0/0', gateway: '192.168.30.1' }]);
      assert.deepEqual(device.vip, { ip: '192.168.30.30' });
      assert.deepEqual(patch.machine.network.nameservers, ['192.168.30.1']);
      assert.equal(patch.cluster.controlPlane.endpoint, 'https://192.168.30.30:6443');
      assert.ok(patch.machine.certSANs.includes(spec.endpoint));
      assert.ok(patch.cluster.apiServer.certSANs.includes(spec.endpoint));
      assert.ok(patch.cluster.apiServer.certSANs.includes('api.rciis.lab'));
    }
  });

  it('is rejected by the v1.13 schema, which no longer describes machine.network (so the version choice matters)', () => {
    assert.notDeepEqual(schemaErrors(files[0].contents, 'v1.13'), []);
  });

  it('the validation can fail: a misspelled VIP key and a wrong type are rejected by v1.11', () => {
    const misspelled = files[0].contents.replace('vip:\n          ip:', 'vip:\n          address:');
    assert.notEqual(misspelled, files[0].contents);
    assert.notDeepEqual(schemaErrors(misspelled, 'v1.11'), []);
    const wrongType = files[0].contents.replace(/endpoint: https:\/\/\S+/, 'endpoint: 192.168.30.30:6443');
    assert.notDeepEqual(schemaErrors(wrongType, 'v1.11'), [], 'endpoint must be an https:// URL');
  });
});

describe('render talos: Talos >= 1.12 network documents', () => {
  const spec = caseSpec('talos-documents');
  const files = talosRenderer.render(spec, GOLDEN_CONTEXT);

  it('matches the golden files', () => assertGolden('talos-documents', 'talos', files));

  it('every document of every patch is valid against the v1.13 schema', () => {
    for (const file of files) assert.deepEqual(schemaErrors(file.contents, 'v1.13'), [], file.path);
  });

  it('has the v1alpha1 part, the link alias, the link with address and route, and the Layer2VIPConfig', () => {
    for (const [index, node] of spec.controlPlane.entries()) {
      const [config, alias, link, vip, ...rest] = documentsOf(files[index].contents);
      assert.equal(rest.length, 0);
      assert.equal(config.cluster.controlPlane.endpoint, 'https://api.rciis.lab:6443');
      assert.deepEqual(config.machine.certSANs, ['api.rciis.lab', '192.168.30.30']);
      assert.deepEqual(config.cluster.apiServer.certSANs, ['api.rciis.lab', '192.168.30.30']);
      assert.equal(config.machine.network, undefined);
      assert.deepEqual(alias, { apiVersion: 'v1alpha1', kind: 'LinkAliasConfig', name: 'uplink', selector: { match: 'glob("bc:24:11:*", mac(link.hardware_addr)) && glob("virtio_net", link.driver)' } });
      assert.deepEqual(link, { apiVersion: 'v1alpha1', kind: 'LinkConfig', name: 'uplink', addresses: [{ address: `${node.address}/24` }], routes: [{ gateway: '192.168.30.1' }] });
      assert.deepEqual(vip, { apiVersion: 'v1alpha1', kind: 'Layer2VIPConfig', name: '192.168.30.30', link: 'uplink' });
    }
  });

  it('the validation can fail: a VIP document with a wrong key and a bad address are rejected', () => {
    const wrongKey = files[0].contents.replace('kind: Layer2VIPConfig\nname:', 'kind: Layer2VIPConfig\nip:');
    assert.notEqual(wrongKey, files[0].contents);
    assert.notDeepEqual(schemaErrors(wrongKey, 'v1.13'), []);
    const noPrefix = files[0].contents.replace('address: 192.168.30.31/24', 'address: 192.168.30.31');
    assert.notEqual(noPrefix, files[0].contents);
    assert.notDeepEqual(schemaErrors(noPrefix, 'v1.13'), [], 'LinkConfig addresses need a prefix length');
  });

  it('renders nameservers as a ResolverConfig document and the plain interface without an alias', () => {
    const plain = loadSpec(specText('talos-documents').replace(/ {2}deviceSelector: .*\n/, '').replace('interface: uplink', 'interface: ens18\n  nameservers: [192.168.30.1]'));
    const [file] = talosRenderer.render(plain, GOLDEN_CONTEXT);
    const kinds = documentsOf(file.contents).map((d) => d.kind);
    assert.deepEqual(kinds, [undefined, 'LinkConfig', 'Layer2VIPConfig', 'ResolverConfig']);
    assert.deepEqual(schemaErrors(file.contents, 'v1.13'), []);
  });
});

describe('render talos: one control-plane node without a VIP (the guide\'s single control plane)', () => {
  const spec = caseSpec('talos-single');
  const files = talosRenderer.render(spec, GOLDEN_CONTEXT);

  it('matches the golden files', () => assertGolden('talos-single', 'talos', files));

  it('writes the endpoint and the certificate names only, valid for Talos 1.11 and 1.13', () => {
    assert.deepEqual(files.map((f) => f.path), ['cp-01.yaml']);
    const [patch, ...rest] = documentsOf(files[0].contents);
    assert.equal(rest.length, 0);
    assert.deepEqual(patch, {
      machine: { certSANs: ['192.168.30.31', 'cp-01.lab.example.com'] },
      cluster: { controlPlane: { endpoint: 'https://192.168.30.31:6443' }, apiServer: { certSANs: ['192.168.30.31', 'cp-01.lab.example.com'] } },
    });
    assert.deepEqual(schemaErrors(files[0].contents, 'v1.11'), []);
    assert.deepEqual(schemaErrors(files[0].contents, 'v1.13'), []);
    assert.match(files[0].contents, /Nothing fails over/);
  });

  it('two control-plane nodes still need a VIP', () => {
    const two = loadSpec(specText('talos-single').replace('  - { name: cp-01, address: 192.168.30.31 }', '  - { name: cp-01, address: 192.168.30.31 }\n  - { name: cp-02, address: 192.168.30.32 }'));
    const error = renderError(() => talosRenderer.render(two, GOLDEN_CONTEXT));
    assert.match(error.message, /^vip: render talos needs a VIP for 2 control-plane nodes/);
  });
});

describe('render talos: the VIP requirements are enforced', () => {
  const base = specText('talos-legacy');
  const attempt = (edit: (text: string) => string) => () => talosRenderer.render(loadSpec(edit(base)), GOLDEN_CONTEXT);
  const cases: Array<[string, (text: string) => string, RegExp]> = [
    ['no VIP', (s) => s.replace(/^vip: .*\n/m, '').replace('endpoint: 192.168.30.30', 'endpoint: api.rciis.lab'), /^vip: render talos needs a VIP/],
    ['VIP outside the control-plane subnet', (s) => s.replace('vip: { address: 192.168.30.30', 'vip: { address: 192.168.31.30').replace('endpoint: 192.168.30.30', 'endpoint: 192.168.31.30'), /^vip\.address: the VIP 192\.168\.31\.30 is not in the subnet of controlPlane\[0\] \(192\.168\.30\.31\/24\)/],
    ['VIP is the gateway', (s) => s.replace('gateway: 192.168.30.1', 'gateway: 192.168.30.30'), /^vip\.address: the VIP 192\.168\.30\.30 is the gateway's address/],
    ['VIP is the network address', (s) => s.replace('vip: { address: 192.168.30.30', 'vip: { address: 192.168.30.0').replace('endpoint: 192.168.30.30', 'endpoint: 192.168.30.0'), /^vip\.address: 192\.168\.30\.0 is the network or broadcast address/],
    ['VIP held by LB peers', (s) => s.replace('vip: { address: 192.168.30.30, prefixLength: 24 }', 'vip: { address: 192.168.30.30, prefixLength: 24, peers: [{ name: lb-1, address: 192.168.30.11, priority: 100 }] }'), /^vip\.peers: /],
    ['endpoint is another address', (s) => s.replace('endpoint: 192.168.30.30', 'endpoint: 192.168.30.40'), /^endpoint: the endpoint 192\.168\.30\.40 is not the VIP/],
    ['gateway outside the subnet', (s) => s.replace('gateway: 192.168.30.1', 'gateway: 10.0.0.1'), /^talos\.gateway: 10\.0\.0\.1 is not in the control-plane subnet/],
    ['node given by name', (s) => s.replace('address: 192.168.30.32', 'address: cp-02.lab'), /^controlPlane\[1\]\.address: "cp-02\.lab" is not an IPv4 address/],
    ['node port override', (s) => s.replace('address: 192.168.30.32', 'address: 192.168.30.32, ports: { kubernetes: 7443 }'), /^controlPlane\[1\]\.ports\.kubernetes: cp-02 serves kubernetes on 7443, but a Talos VIP forwards nothing/],
    ['device selector with a kernel name as alias', (s) => s.replace('configStyle: legacy', 'configStyle: documents').replace('interface: eth0', 'interface: eth0\n  deviceSelector: { driver: virtio_net }'), /^talos\.interface: with a deviceSelector the link gets an alias/],
  ];
  for (const [name, edit, pattern] of cases) {
    it(name, () => {
      const error = renderError(attempt(edit));
      assert.equal(error.code, 'RENDER');
      assert.match(error.message, pattern);
      assert.ok(error.hint);
    });
  }
  it('the unmodified spec renders (so each case above fails for its own reason)', () => {
    assert.equal(attempt((s) => s)().length, 3);
  });
  it('a VIP equal to a node address is refused by the spec itself', () => {
    const text = base.replace('vip: { address: 192.168.30.30', 'vip: { address: 192.168.30.32');
    assert.throws(() => loadSpec(text), /the VIP 192\.168\.30\.32 is the address of controlPlane\[1\]/);
  });
});
