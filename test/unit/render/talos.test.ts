import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { parseAllDocuments } from 'yaml';
import { RenderRefused } from '../../../src/render/refusals.js';
import { talosRenderer } from '../../../src/render/talos/index.js';
import { parseSpec } from '../../../src/spec/load.js';
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

  it('two control-plane nodes behind one node\'s address are refused: the API would go down with that node', () => {
    const two = loadSpec(specText('talos-single').replace('  - { name: cp-01, address: 192.168.30.31 }', '  - { name: cp-01, address: 192.168.30.31 }\n  - { name: cp-02, address: 192.168.30.32 }'));
    const error = renderError(() => talosRenderer.render(two, GOLDEN_CONTEXT));
    assert.match(error.message, /^endpoint: the endpoint 192\.168\.30\.31 is the address of controlPlane\[0\] \(cp-01\): with 2 control-plane nodes/);
    assert.match(error.hint ?? '', /vip\.peers|bgp|NLB|Talos VIP/);
  });
});

describe('render talos: the VIP requirements are enforced', () => {
  const base = specText('talos-legacy');
  const attempt = (edit: (text: string) => string) => () => talosRenderer.render(loadSpec(edit(base)), GOLDEN_CONTEXT);
  const cases: Array<[string, (text: string) => string, RegExp]> = [
    ['no VIP, but node network settings', (s) => s.replace(/^vip: .*\n/m, '').replace('endpoint: 192.168.30.30', 'endpoint: api.rciis.lab'), /^talos\.gateway: render talos writes the nodes' network settings only for a Talos VIP/],
    ['VIP outside the control-plane subnet', (s) => s.replace('vip: { address: 192.168.30.30', 'vip: { address: 192.168.31.30').replace('endpoint: 192.168.30.30', 'endpoint: 192.168.31.30'), /^vip\.address: the VIP 192\.168\.31\.30 is not in the subnet of controlPlane\[0\] \(192\.168\.30\.31\/24\)/],
    ['VIP is the gateway', (s) => s.replace('gateway: 192.168.30.1', 'gateway: 192.168.30.30'), /^vip\.address: the VIP 192\.168\.30\.30 is the gateway's address/],
    ['VIP is the network address', (s) => s.replace('vip: { address: 192.168.30.30', 'vip: { address: 192.168.30.0').replace('endpoint: 192.168.30.30', 'endpoint: 192.168.30.0'), /^vip\.address: 192\.168\.30\.0 is the network or broadcast address/],
    ['VIP held by LB peers, but node network settings', (s) => s.replace('vip: { address: 192.168.30.30, prefixLength: 24 }', 'vip: { address: 192.168.30.30, prefixLength: 24, peers: [{ name: lb-1, address: 192.168.30.11, priority: 100 }] }'), /^talos\.gateway: .*held by the LB hosts \(vip\.peers\)/],
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
  it('every refusal at once, each naming its field, as validate does', () => {
    const refusals = (edit: (text: string) => string) => {
      try {
        attempt(edit)();
      } catch (error) {
        assert.ok(error instanceof RenderRefused, `a RenderRefused with every refusal, not ${String(error)}`);
        return error.refusals.map((r) => r.path);
      }
      assert.fail('expected refusals');
    };
    // With a Talos VIP: the VIP outside the nodes' subnet, a gateway outside it, a nameserver by name, two port overrides.
    assert.deepEqual(refusals((s) => s
      .replace('vip: { address: 192.168.30.30', 'vip: { address: 192.168.31.30').replace('endpoint: 192.168.30.30', 'endpoint: 192.168.31.30')
      .replace('gateway: 192.168.30.1', 'gateway: 10.0.0.1').replace('nameservers: [192.168.30.1]', 'nameservers: [192.168.30.1, dns.lab]')
      .replace('address: 192.168.30.32 }', 'address: 192.168.30.32, ports: { kubernetes: 7443 } }').replace('address: 192.168.30.33 }', 'address: 192.168.30.33, ports: { kubernetes: 7443 } }')), [
      'vip.address', 'talos.gateway', 'talos.nameservers[1]', 'controlPlane[1].ports.kubernetes', 'controlPlane[2].ports.kubernetes',
    ]);
    // Without one: every network setting that would be dropped.
    assert.deepEqual(refusals((s) => s.replace(/^vip: .*\n/m, '').replace('endpoint: 192.168.30.30', 'endpoint: api.rciis.lab').replace('interface: eth0', 'interface: eth0\n  vlan: 408\n  deviceSelector: { driver: virtio_net }')), [
      'talos.gateway', 'talos.nameservers', 'talos.deviceSelector.driver', 'talos.vlan',
    ]);
  });
  it('the unmodified spec renders (so each case above fails for its own reason)', () => {
    assert.equal(attempt((s) => s)().length, 3);
  });
  it('a VIP equal to a node address is refused by the spec itself', () => {
    const text = base.replace('vip: { address: 192.168.30.30', 'vip: { address: 192.168.30.32');
    assert.throws(() => loadSpec(text), /the VIP 192\.168\.30\.32 is the address of controlPlane\[1\]/);
  });
});

describe('render talos: a Talos VIP on a VLAN over a bond (issue 19 item 4)', () => {
  const documents = talosRenderer.render(caseSpec('talos-bond-vlan'), GOLDEN_CONTEXT);
  const legacy = talosRenderer.render(caseSpec('talos-bond-vlan-legacy'), GOLDEN_CONTEXT);

  it('matches the golden files', () => {
    assertGolden('talos-bond-vlan', 'talos', documents);
    assertGolden('talos-bond-vlan-legacy', 'talos', legacy);
  });

  it('documents: a BondConfig, a VLANConfig on it with the address and route, and the VIP on the VLAN link; valid for v1.13', () => {
    for (const file of documents) assert.deepEqual(schemaErrors(file.contents, 'v1.13'), [], file.path);
    const [config, bond, vlan, vip, resolver, ...rest] = documentsOf(documents[0].contents);
    assert.equal(rest.length, 0);
    assert.equal(config.cluster.controlPlane.endpoint, 'https://10.40.8.10:6443');
    assert.deepEqual(bond, { apiVersion: 'v1alpha1', kind: 'BondConfig', name: 'bond0', links: ['enp1s0f0', 'enp1s0f1'], bondMode: '802.3ad', miimon: 100 });
    assert.deepEqual(vlan, { apiVersion: 'v1alpha1', kind: 'VLANConfig', name: 'bond0.408', vlanID: 408, parent: 'bond0', addresses: [{ address: '10.40.8.11/24' }], routes: [{ gateway: '10.40.8.1' }] });
    assert.deepEqual(vip, { apiVersion: 'v1alpha1', kind: 'Layer2VIPConfig', name: '10.40.8.10', link: 'bond0.408' });
    assert.equal(resolver.kind, 'ResolverConfig');
    assert.ok(!documentsOf(documents[0].contents).some((d) => d.kind === 'LinkConfig'), 'LinkConfig is for physical links only');
  });

  it('legacy: interfaces[].bond with vlans[] carrying the address, route and VIP; valid for v1.11', () => {
    for (const file of legacy) assert.deepEqual(schemaErrors(file.contents, 'v1.11'), [], file.path);
    const [patch] = documentsOf(legacy[1].contents);
    assert.deepEqual(patch.machine.network.interfaces, [{
      interface: 'bond0',
      bond: { interfaces: ['enp1s0f0', 'enp1s0f1'], mode: '802.3ad', miimon: 100 },
      vlans: [{ vlanId: 408, addresses: ['10.40.8.12/24'], routes: [{ network: '0.0.0.0/0', gateway: '10.40.8.1' }], vip: { ip: '10.40.8.10' } }],
    }]);
  });

  it('the validation can fail: a VLANConfig without its parent, or a VIP on a VLAN the schema does not know, is rejected', () => {
    const noParent = documents[0].contents.replace('parent: bond0\n', '');
    assert.notEqual(noParent, documents[0].contents);
    assert.notDeepEqual(schemaErrors(noParent, 'v1.13'), []);
    const wrongKey = legacy[0].contents.replace('vlanId: 408', 'vlanID: 408');
    assert.notEqual(wrongKey, legacy[0].contents);
    assert.notDeepEqual(schemaErrors(wrongKey, 'v1.11'), []);
  });

  it('a VLAN on a physical link, and a bond without a VLAN, are valid in both styles', () => {
    const base = specText('talos-bond-vlan');
    const shapes = {
      'vlan on eth0': base.replace('  interface: bond0\n  bond: { links: [enp1s0f0, enp1s0f1], mode: 802.3ad }\n', '  interface: eth0\n'),
      'bond alone': base.replace('  vlan: 408\n', ''),
    };
    for (const [name, text] of Object.entries(shapes)) {
      for (const style of ['documents', 'legacy'] as const) {
        const [file] = talosRenderer.render(loadSpec(text.replace('talos:\n', `talos:\n  configStyle: ${style}\n`)), GOLDEN_CONTEXT);
        assert.deepEqual(schemaErrors(file.contents, style === 'legacy' ? 'v1.11' : 'v1.13'), [], `${name}, ${style}`);
        const link = name === 'vlan on eth0' ? 'eth0.408' : 'bond0';
        if (style === 'documents') assert.equal(documentsOf(file.contents).find((d) => d.kind === 'Layer2VIPConfig')?.link, link, name);
      }
    }
  });

  it('a link name that is not a physical link, without the spec saying how to build it, is refused', () => {
    const base = specText('talos-bond-vlan');
    const cases: Array<[string, string, RegExp, RegExp]> = [
      ['a VLAN name', base.replace(/ {2}interface: bond0\n {2}bond: .*\n {2}vlan: 408\n/, '  interface: bond0.408\n'), /^talos\.interface: "bond0\.408" is a VLAN link \(VLAN 408 of bond0\)/, /talos\.interface: bond0 and talos\.vlan: 408, and talos\.bond/],
      ['a bond without members', base.replace(/ {2}bond: .*\n/, ''), /^talos\.interface: "bond0" is a bond/, /talos\.bond: \{ links:/],
      ['a VLAN name inherited from vip.interface', base.replace('vip: { address: 10.40.8.10 }', 'vip: { address: 10.40.8.10, interface: eth1.408 }').replace(/ {2}interface: bond0\n {2}bond: .*\n {2}vlan: 408\n/, ''), /defaults to vip\.interface/, /talos\.interface: eth1 and talos\.vlan: 408/],
    ];
    for (const [name, text, message, hint] of cases) {
      const error = renderError(() => talosRenderer.render(loadSpec(text), GOLDEN_CONTEXT));
      assert.equal(error.code, 'RENDER', name);
      assert.match(error.message, message, name);
      assert.match(error.hint ?? '', hint, name);
    }
  });

  it('the spec refuses a bond with a device selector, a member that is the bond, and a VLAN link name too long for Linux', () => {
    const base = specText('talos-bond-vlan');
    const bad: Array<[string, string]> = [
      [base.replace('  vlan: 408\n', '  vlan: 408\n  deviceSelector: { driver: mlx5_core }\n'), 'talos.deviceSelector'],
      [base.replace('links: [enp1s0f0, enp1s0f1]', 'links: [enp1s0f0, bond0]'), 'talos.bond.links[1]'],
      [base.replace('links: [enp1s0f0, enp1s0f1]', 'links: [enp1s0f0, enp1s0f0]'), 'talos.bond.links[1]'],
      [base.replace('  interface: bond0\n', '  interface: bond-uplink0\n'), 'talos.vlan'],
    ];
    for (const [text, path] of bad) {
      const result = parseSpec(text, 'endpoint.yaml');
      assert.equal(result.spec, undefined, path);
      const problem = result.problems.find((p) => p.path === path);
      assert.ok(problem?.hint, `${path}: ${JSON.stringify(result.problems)}`);
    }
  });
});

describe('render talos: the endpoint and certSANs in every topology (issue 19 item 10)', () => {
  // The golden cases of the other targets: an LB pair's VIP, an NLB's DNS name, BGP anycast (IPv4, IPv6 on 443),
  // DNS round robin.
  const topologies: Array<[string, string, string[]]> = [
    ['bare-metal-tcp', 'https://192.168.30.30:6443', ['192.168.30.30']],
    ['bare-metal-workers', '', []],
    ['aws-guide', 'https://demo-talos-api-nlb-0123456789.elb.eu-west-1.amazonaws.com:6443', ['demo-talos-api-nlb-0123456789.elb.eu-west-1.amazonaws.com']],
    ['bgp-bird', 'https://10.96.0.10:6443', ['10.96.0.10']],
    ['bgp-bird-ipv6', 'https://[fd00:96::10]:443', ['fd00:96::10']],
    ['dns-clients', 'https://api.dev.example.com:6443', []],
  ];
  for (const [name, url, sans] of topologies) {
    it(`${name}: every control-plane node gets the endpoint and certSANs, every worker the endpoint; valid for v1.11 and v1.13`, () => {
      const spec = caseSpec(name);
      const files = talosRenderer.render(spec, GOLDEN_CONTEXT);
      assert.deepEqual(files.map((f) => f.path), [...spec.controlPlane, ...spec.workers].map((n) => `${n.name}.yaml`));
      const expectedUrl = url || `https://${spec.endpoint}:${spec.listeners.find((l) => l.role === 'kubernetes')!.port}`;
      for (const file of files) {
        assert.deepEqual(schemaErrors(file.contents, 'v1.11'), [], file.path);
        assert.deepEqual(schemaErrors(file.contents, 'v1.13'), [], file.path);
        const [patch, ...rest] = documentsOf(file.contents);
        assert.equal(rest.length, 0, 'no network documents: the endpoint is not held by the nodes');
        assert.equal(patch.cluster.controlPlane.endpoint, expectedUrl, file.path);
        assert.equal(patch.machine?.network, undefined);
        if (spec.workers.some((w) => `${w.name}.yaml` === file.path)) {
          assert.deepEqual(patch, { cluster: { controlPlane: { endpoint: expectedUrl } } });
          continue;
        }
        for (const san of [spec.endpoint, ...sans]) {
          assert.ok(patch.machine.certSANs.includes(san), `${file.path}: machine.certSANs has ${san}`);
          assert.ok(patch.cluster.apiServer.certSANs.includes(san), `${file.path}: apiServer.certSANs has ${san}`);
        }
      }
    });
  }

  it('a dual-stack anycast endpoint puts both addresses into the certSANs', () => {
    const text = specText('bgp-bird').replace('endpoint: 10.96.0.10', 'endpoint: api.routed.example').replace('bgp:\n', 'bgp:\n  addresses: [10.96.0.10, "fd00:96::10"]\n') + '    - { name: tor-1v6, address: "fd00:1::1", asn: 65000 }\n';
    const [file] = talosRenderer.render(loadSpec(text), GOLDEN_CONTEXT);
    const [patch] = documentsOf(file.contents);
    assert.equal(patch.cluster.controlPlane.endpoint, 'https://api.routed.example:6443');
    assert.deepEqual(patch.cluster.apiServer.certSANs, ['api.routed.example', '10.96.0.10', 'fd00:96::10']);
  });

  it('the LB pair\'s endpoint must be its VIP (or a name for it); node network settings are refused, not dropped', () => {
    const base = specText('bare-metal-tcp');
    const other = renderError(() => talosRenderer.render(loadSpec(base.replace('endpoint: 192.168.30.30', 'endpoint: 192.168.30.40')), GOLDEN_CONTEXT));
    assert.match(other.message, /^endpoint: the endpoint 192\.168\.30\.40 is not the LB hosts' VIP 192\.168\.30\.30/);
    const gateway = renderError(() => talosRenderer.render(loadSpec(`${base}talos: { gateway: 192.168.30.1 }\n`), GOLDEN_CONTEXT));
    assert.match(gateway.message, /^talos\.gateway: render talos writes the nodes' network settings only for a Talos VIP/);
    const named = talosRenderer.render(loadSpec(base.replace('endpoint: 192.168.30.30', 'endpoint: api.rciis.lab')), GOLDEN_CONTEXT);
    assert.deepEqual(documentsOf(named[0].contents)[0].cluster.apiServer.certSANs, ['api.rciis.lab', '192.168.30.30']);
  });
});
