// What render talos writes, decided from the topology. Every node needs cluster.controlPlane.endpoint and the
// control-plane nodes the certificate names, whoever holds the endpoint: the nodes themselves (a Talos VIP,
// checked against the guide's "VIP requirements" before anything is written, with the link the VIP goes on:
// a physical link or alias, a bond, a VLAN), one node alone (the guide's "single control plane"), or something
// in front of them (an LB pair's VIP, BGP anycast, an NLB's DNS name, any balancer).
import { BlockList, isIP } from 'node:net';
import { joinHostPort, sameHost } from '../../spec/address.js';
import { listenerOf } from '../../spec/listener-role.js';
import type { BondMode, Spec } from '../../spec/types.js';
import { portOverrides } from '../node-ports.js';
import { Refusals } from '../refusals.js';

export interface TalosNodePlan {
  name: string;
  address: string;
  /** address/prefix */
  cidr: string;
}

/** What every patch sets: where the cluster is reached and the names its certificates carry. */
export interface ClusterPlan {
  endpointUrl: string;
  certSANs: string[];
  /** Workers get the endpoint only (they serve no certificate of the cluster's). */
  workers: TalosNodePlan[];
}

/** One control-plane node without a VIP (the guide's "single control plane"): the endpoint and certSANs only. */
export interface SingleNodePlan extends ClusterPlan {
  kind: 'single';
  node: TalosNodePlan;
}

/** The endpoint is held in front of the nodes (an LB pair's VIP, BGP anycast, an NLB): the endpoint and certSANs only. */
export interface FrontedPlan extends ClusterPlan {
  kind: 'fronted';
  /** What holds the endpoint, for the patches' comment: "the LB hosts' VIP 192.168.30.30". */
  via: string;
  nodes: TalosNodePlan[];
}

/** The link the node addresses and the VIP go on, and what it is built from. */
export interface LinkPlan {
  /** talos.interface, or its VLAN link <interface>.<vlan>. */
  link: string;
  /** talos.interface: a physical link, its alias (with a device selector), or the bond. */
  base: string;
  vlan?: number;
  bond?: { links: string[]; mode: BondMode };
}

/** Control-plane nodes that hold a VIP among themselves: their addresses, routes, link and the VIP. */
export interface VipPlan extends ClusterPlan, LinkPlan {
  kind: 'vip';
  vip: string;
  family: 4 | 6;
  prefixLength: number;
  gateway?: string;
  selectorCel?: string;
  legacySelector?: { hardwareAddr?: string; driver?: string; busPath?: string };
  nameservers: string[];
  nodes: TalosNodePlan[];
}

export type TalosPlan = SingleNodePlan | FrontedPlan | VipPlan;

function subnetOf(address: string, prefixLength: number, family: 4 | 6): BlockList {
  const list = new BlockList();
  const type = family === 4 ? 'ipv4' : 'ipv6';
  // BlockList matches by prefix, so the node's own address works as the network address.
  list.addSubnet(address, prefixLength, type);
  return list;
}

/** The IPv4 network and broadcast addresses of address/prefix (never usable as a VIP). */
function ipv4Reserved(address: string, prefixLength: number): string[] {
  if (prefixLength > 30) return [];
  const value = address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const size = 2 ** (32 - prefixLength);
  const network = Math.floor(value / size) * size;
  const toText = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
  return [toText(network), toText(network + size - 1)];
}

function celString(value: string): string {
  return JSON.stringify(value);
}

/**
 * What render talos writes for the spec, or every refusal at once (RenderRefused, src/render/refusals.ts), each
 * naming its field.
 */
export function planTalos(spec: Spec): TalosPlan {
  const refusals = new Refusals('talos');
  const plan = spec.vip && spec.vip.peers.length === 0 ? planTalosVip(spec, spec.vip, refusals) : planWithoutTalosVip(spec, refusals);
  refusals.throwIfAny();
  return plan;
}

function planTalosVip(spec: Spec, vip: NonNullable<Spec['vip']>, refusals: Refusals<'talos'>): VipPlan {
  const family = vip.family;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const prefixLength = spec.talos.prefixLength;
  // The subnet checks need a prefix that fits the family, and nodes of the VIP's family.
  const prefixFits = prefixLength <= (family === 4 ? 32 : 128);
  if (!prefixFits) refusals.addAt('talos.prefixLength', `/${prefixLength} is too long for IPv${family}`, `use at most ${family === 4 ? 32 : 128}`);

  const nodes = spec.controlPlane.map((node, index): TalosNodePlan => {
    if (isIP(node.address) !== family) refusals.addAt(`controlPlane[${index}].address`, `"${node.address}" is not an IPv${family} address like the VIP ${vip.address}`, 'Talos assigns static addresses: give every control-plane node its IP address (same family as the VIP)');
    if (sameHost(node.address, vip.address)) refusals.addAt('vip.address', `the VIP ${vip.address} is the address of controlPlane[${index}] (${node.name})`, 'a VIP must be an unused address; pick a free one in the control-plane subnet');
    return { name: node.name, address: node.address, cidr: `${node.address}/${prefixLength}` };
  });
  const subnetNodes = prefixFits ? nodes.map((node, index) => ({ node, index })).filter(({ node }) => isIP(node.address) === family) : [];
  const outside = subnetNodes.filter(({ node }) => !subnetOf(node.address, prefixLength, family).check(vip.address, type));
  if (outside.length > 0) {
    refusals.addAt('vip.address', `the VIP ${vip.address} is not in the subnet of ${outside.map(({ node, index }) => `controlPlane[${index}] (${node.cidr})`).join(', ')}`, 'a Talos VIP is announced with gratuitous ARP, so it must be an unused address in the control-plane nodes\' own subnet (and all of them on one L2 segment); check vip.address and talos.prefixLength');
  }
  const first = subnetNodes[0]?.node;
  if (first && family === 4 && ipv4Reserved(first.address, prefixLength).includes(vip.address)) {
    refusals.addAt('vip.address', `${vip.address} is the network or broadcast address of ${first.cidr}`, 'pick an unused host address in the subnet');
  }
  const gateway = spec.talos.gateway;
  if (gateway !== undefined) {
    if (isIP(gateway) !== family) refusals.addAt('talos.gateway', `"${gateway}" is not an IPv${family} address`, 'set the default gateway of the control-plane subnet');
    else if (first && !subnetOf(first.address, prefixLength, family).check(gateway, type)) refusals.addAt('talos.gateway', `${gateway} is not in the control-plane subnet ${first.cidr}`, 'use the router of the control-plane subnet');
    if (sameHost(gateway, vip.address)) refusals.addAt('vip.address', `the VIP ${vip.address} is the gateway's address`, 'a VIP must be an unused address; pick a free one');
  }
  spec.talos.nameservers.forEach((ns, index) => {
    if (isIP(ns) === 0) refusals.addAt(`talos.nameservers[${index}]`, `"${ns}" is not an IP address`, 'nameservers are IP addresses');
  });
  if (isIP(spec.endpoint) !== 0 && !sameHost(spec.endpoint, vip.address)) {
    refusals.addAt('endpoint', `the endpoint ${spec.endpoint} is not the VIP ${vip.address}`, 'with a Talos VIP the endpoint is the VIP itself (or a DNS name that resolves to it)');
  }
  const port = apiPort(spec, 'a Talos VIP', refusals);

  const selector = spec.talos.deviceSelector;
  const hasSelector = selector !== undefined && Object.values(selector).some((v) => v !== undefined);
  const links = planLinks(spec, refusals);
  let selectorCel: string | undefined;
  if (hasSelector) {
    const parts: string[] = [];
    if (selector.hardwareAddr) parts.push(`glob(${celString(selector.hardwareAddr)}, mac(link.hardware_addr))`);
    if (selector.driver) parts.push(`glob(${celString(selector.driver)}, link.driver)`);
    if (selector.busPath) parts.push(`glob(${celString(selector.busPath)}, link.bus_path)`);
    selectorCel = parts.join(' && ');
    if (spec.talos.configStyle === 'documents' && /^(eth|en|wl|bond|br)[a-z0-9]*$/.test(links.base)) {
      refusals.addAt('talos.interface', `with a deviceSelector the link gets an alias, and "${links.base}" looks like a kernel interface name`, 'Talos advises against aliases like eth0 or ens3 (they can collide with real links); set talos.interface to an alias such as uplink');
    }
  }

  const certSANs = [...new Set([spec.endpoint, vip.address, ...spec.talos.certSANs])];
  return {
    kind: 'vip', vip: vip.address, family, prefixLength, gateway, ...links,
    ...(selectorCel ? { selectorCel, legacySelector: { ...selector } } : {}),
    nameservers: spec.talos.nameservers,
    endpointUrl: endpointUrl(spec, port),
    certSANs,
    nodes,
    workers: workersOf(spec),
  };
}

/**
 * The link a Talos VIP goes on. Talos writes a LinkConfig for physical links only: a bond is a BondConfig and a
 * VLAN a VLANConfig, so a name that is one of those without the spec saying how to build it is refused rather
 * than written as a physical link the node never finds (and the VIP never comes up).
 */
function planLinks(spec: Spec, refusals: Refusals<'talos'>): LinkPlan {
  const { interface: base, vlan, bond } = spec.talos;
  const vlanName = /^(.+)\.(\d{1,4})$/.exec(base);
  if (vlanName) {
    refusals.addAt('talos.interface', `"${base}" is a VLAN link (VLAN ${vlanName[2]} of ${vlanName[1]}), not a physical link${spec.talos.interface === spec.vip?.interface ? ' (talos.interface defaults to vip.interface)' : ''}`, `write talos.interface: ${vlanName[1]} and talos.vlan: ${Number(vlanName[2])}${/^bond/.test(vlanName[1]) ? `, and talos.bond: { links: [<member links>] } for ${vlanName[1]}` : ''}: render talos then writes a VLANConfig (legacy: vlans[])`);
  } else if (!bond && /^bond\d*$/.test(base)) {
    refusals.addAt('talos.interface', `"${base}" is a bond, not a physical link, and the spec does not say what it bonds`, `add talos.bond: { links: [eth0, eth1], mode: active-backup } (the member links): render talos then writes a BondConfig (legacy: interfaces[].bond)`);
  } else if (/^(br|vlan|veth|dummy|wg)\d*$/.test(base)) {
    refusals.addAt('talos.interface', `"${base}" looks like a ${base.replace(/\d+$/, '')} link, which render talos cannot build`, 'put the VIP on a physical link, its VLAN (talos.vlan) or a bond (talos.bond)');
  }
  return { link: vlan !== undefined ? `${base}.${vlan}` : base, base, ...(vlan !== undefined ? { vlan } : {}), ...(bond ? { bond } : {}) };
}

/**
 * No Talos VIP: the endpoint is held by one node alone, or by something in front of the nodes. Either way every
 * node gets the endpoint and the control-plane nodes the names their certificates must carry; no network settings
 * (those are for the link a Talos VIP goes on), so talos fields that describe the nodes' network are refused
 * rather than dropped.
 */
function planWithoutTalosVip(spec: Spec, refusals: Refusals<'talos'>): SingleNodePlan | FrontedPlan {
  const talos = spec.talos;
  const selector = talos.deviceSelector ?? {};
  const network: Array<[string, boolean]> = [
    ['talos.gateway', talos.gateway !== undefined], ['talos.nameservers', talos.nameservers.length > 0],
    ...(['hardwareAddr', 'driver', 'busPath'] as const).map((key): [string, boolean] => [`talos.deviceSelector.${key}`, selector[key] !== undefined]),
    ['talos.vlan', talos.vlan !== undefined], ['talos.bond.links', talos.bond !== undefined],
  ];
  for (const [field] of network.filter(([, set]) => set)) {
    const written = field === 'talos.bond.links' ? 'talos.bond' : field;
    refusals.addAt(field, `render talos writes the nodes' network settings only for a Talos VIP (the link the VIP goes on); ${spec.vip ? 'this spec\'s VIP is held by the LB hosts (vip.peers)' : 'this spec has no Talos VIP'}, so it writes the endpoint and certSANs only`, `remove ${written}, and configure the nodes' network in their machine config`);
  }
  const nodes = spec.controlPlane.map((n) => ({ name: n.name, address: n.address, cidr: `${n.address}/${talos.prefixLength}` }));
  const names = (...more: string[]) => [...new Set([spec.endpoint, ...more, ...talos.certSANs])];
  const via = frontOf(spec, refusals);
  if (via) {
    const port = listenerOf(spec, 'kubernetes')?.port ?? 6443;
    return { kind: 'fronted', via: via.text, endpointUrl: endpointUrl(spec, port), certSANs: names(...via.addresses), nodes, workers: workersOf(spec) };
  }
  if (spec.controlPlane.length !== 1) {
    const index = spec.controlPlane.findIndex((n) => sameHost(n.address, spec.endpoint));
    refusals.addAt('endpoint', `the endpoint ${spec.endpoint} is the address of controlPlane[${index}] (${spec.controlPlane[index].name}): with ${spec.controlPlane.length} control-plane nodes the API goes down with that one node`, 'point the endpoint at what balances the nodes (an LB pair\'s VIP with vip.peers, BGP anycast with bgp, an NLB\'s DNS name), or add vip: { address: <an unused address in the control-plane subnet> } for a Talos VIP');
  }
  const port = apiPort(spec, 'one control-plane node without a balancer', refusals);
  return { kind: 'single', endpointUrl: endpointUrl(spec, port), certSANs: names(), node: nodes[0], workers: workersOf(spec) };
}

/**
 * What holds the endpoint in front of the nodes, and the addresses it is reached on: undefined when the endpoint
 * is a control-plane node's own address (nothing in front). A DNS name or an address no node has is a balancer
 * (an NLB's name, a load balancer the spec does not describe).
 */
function frontOf(spec: Spec, refusals: Refusals<'talos'>): { text: string; addresses: string[] } | undefined {
  if (spec.vip && spec.vip.peers.length > 0) {
    if (isIP(spec.endpoint) !== 0 && !sameHost(spec.endpoint, spec.vip.address)) {
      refusals.addAt('endpoint', `the endpoint ${spec.endpoint} is not the LB hosts' VIP ${spec.vip.address}`, 'with an LB pair the endpoint is its VIP (or a DNS name that resolves to it)');
    }
    return { text: `the LB hosts' VIP ${spec.vip.address} (${spec.vip.peers.map((p) => p.name).join(', ')})`, addresses: [spec.vip.address] };
  }
  if (spec.bgp) return { text: `BGP anycast ${spec.bgp.addresses.join(' and ')} from every healthy LB host`, addresses: spec.bgp.addresses };
  if (spec.controlPlane.length === 1 || spec.controlPlane.some((n) => sameHost(n.address, spec.endpoint))) return undefined;
  // DNS round robin: the name leads to the nodes themselves, so nothing maps ports (checked like a single node).
  if (spec.dns?.name.replace(/\.$/, '') === spec.endpoint.replace(/\.$/, '')) {
    apiPort(spec, 'DNS round robin', refusals);
    return { text: `DNS records for the nodes (${spec.dns.name}, render dns)`, addresses: [] };
  }
  return { text: `${spec.endpoint}, a balancer in front of the nodes`, addresses: [] };
}

function workersOf(spec: Spec): TalosNodePlan[] {
  return spec.workers.map((n) => ({ name: n.name, address: n.address, cidr: `${n.address}/${spec.talos.prefixLength}` }));
}

/** The Kubernetes API port clients use, when nothing between them and the apiserver maps ports. */
function apiPort(spec: Spec, via: string, refusals: Refusals<'talos'>): number {
  const listener = listenerOf(spec, 'kubernetes');
  const listenerIndex = listener ? spec.listeners.indexOf(listener) : -1;
  if (listener && listener.port !== listener.targetPort) {
    refusals.addAt(`listeners[${listenerIndex}].port`, `the kubernetes listener maps ${listener.port} to ${listener.targetPort}, but ${via} forwards nothing: clients reach the apiserver on its own port`, `set port and targetPort to the same value (6443)`);
  }
  for (const override of portOverrides(spec, spec.listeners.filter((l) => l.targets === 'controlPlane'))) {
    refusals.add('controlPlane[].ports', `${override.node} serves ${override.listener.name} on ${override.port}, but ${via} forwards nothing: clients reach every node on the listener's port ${override.listener.port}`, `remove ${override.path} for render talos; every control-plane node serves ${override.listener.name} on the listener's port`, override.path);
  }
  return listener?.port ?? 6443;
}

function endpointUrl(spec: Spec, port: number): string {
  return `https://${joinHostPort(spec.endpoint, port)}`;
}
