// Checks what a Talos VIP needs from the spec (the guide's "VIP requirements") before anything is written.
// One control-plane node needs no VIP (the guide's "single control plane"): its plan has only the endpoint
// and the certificate names.
import { BlockList, isIP } from 'node:net';
import { UserError } from '../../errors.js';
import { joinHostPort } from '../../spec/address.js';
import { listenerOf } from '../../spec/listener-role.js';
import type { Spec } from '../../spec/types.js';
import { firstPortOverride } from '../node-ports.js';

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
}

/** One control-plane node without a VIP (the guide's "single control plane"): the endpoint and certSANs only. */
export interface SingleNodePlan extends ClusterPlan {
  kind: 'single';
  node: TalosNodePlan;
}

/** Control-plane nodes that hold a VIP among themselves: their addresses, routes, link and the VIP. */
export interface VipPlan extends ClusterPlan {
  kind: 'vip';
  vip: string;
  family: 4 | 6;
  prefixLength: number;
  gateway?: string;
  link: string;
  selectorCel?: string;
  legacySelector?: { hardwareAddr?: string; driver?: string; busPath?: string };
  nameservers: string[];
  nodes: TalosNodePlan[];
}

export type TalosPlan = SingleNodePlan | VipPlan;

function fail(path: string, message: string, hint: string): never {
  throw new UserError('RENDER', `${path}: ${message}`, { hint });
}

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

export function planTalos(spec: Spec): TalosPlan {
  const vip = spec.vip;
  if (!vip) return planSingleNode(spec);
  if (vip.peers.length > 0) {
    fail('vip.peers', 'the spec gives the VIP to LB hosts (keepalived or serve); a Talos VIP is held by the control-plane nodes themselves', 'remove vip.peers for a Talos VIP, or render haproxy/keepalived instead of talos (one address cannot have two owners)');
  }
  const family = vip.family;
  const prefixLength = spec.talos.prefixLength;
  if (prefixLength > (family === 4 ? 32 : 128)) fail('talos.prefixLength', `/${prefixLength} is too long for IPv${family}`, `use at most ${family === 4 ? 32 : 128}`);

  const nodes = spec.controlPlane.map((node, index): TalosNodePlan => {
    if (isIP(node.address) !== family) fail(`controlPlane[${index}].address`, `"${node.address}" is not an IPv${family} address like the VIP ${vip.address}`, 'Talos assigns static addresses: give every control-plane node its IP address (same family as the VIP)');
    if (node.address === vip.address) fail('vip.address', `the VIP ${vip.address} is the address of controlPlane[${index}] (${node.name})`, 'a VIP must be an unused address; pick a free one in the control-plane subnet');
    return { name: node.name, address: node.address, cidr: `${node.address}/${prefixLength}` };
  });
  for (const [index, node] of nodes.entries()) {
    if (!subnetOf(node.address, prefixLength, family).check(vip.address, family === 4 ? 'ipv4' : 'ipv6')) {
      fail('vip.address', `the VIP ${vip.address} is not in the subnet of controlPlane[${index}] (${node.cidr})`, 'a Talos VIP is announced with gratuitous ARP, so it must be an unused address in the control-plane nodes\' own subnet (and all of them on one L2 segment); check vip.address and talos.prefixLength');
    }
  }
  if (family === 4 && ipv4Reserved(nodes[0].address, prefixLength).includes(vip.address)) {
    fail('vip.address', `${vip.address} is the network or broadcast address of ${nodes[0].cidr}`, 'pick an unused host address in the subnet');
  }
  const gateway = spec.talos.gateway;
  if (gateway !== undefined) {
    if (isIP(gateway) !== family) fail('talos.gateway', `"${gateway}" is not an IPv${family} address`, 'set the default gateway of the control-plane subnet');
    if (gateway === vip.address) fail('vip.address', `the VIP ${vip.address} is the gateway's address`, 'a VIP must be an unused address; pick a free one');
    if (!subnetOf(nodes[0].address, prefixLength, family).check(gateway, family === 4 ? 'ipv4' : 'ipv6')) fail('talos.gateway', `${gateway} is not in the control-plane subnet ${nodes[0].cidr}`, 'use the router of the control-plane subnet');
  }
  spec.talos.nameservers.forEach((ns, index) => {
    if (isIP(ns) === 0) fail(`talos.nameservers[${index}]`, `"${ns}" is not an IP address`, 'nameservers are IP addresses');
  });
  if (isIP(spec.endpoint) !== 0 && spec.endpoint !== vip.address) {
    fail('endpoint', `the endpoint ${spec.endpoint} is not the VIP ${vip.address}`, 'with a Talos VIP the endpoint is the VIP itself (or a DNS name that resolves to it)');
  }
  const port = apiPort(spec, 'a Talos VIP');

  const selector = spec.talos.deviceSelector;
  const hasSelector = selector !== undefined && Object.values(selector).some((v) => v !== undefined);
  let link = spec.talos.interface;
  let selectorCel: string | undefined;
  if (hasSelector) {
    const parts: string[] = [];
    if (selector.hardwareAddr) parts.push(`glob(${celString(selector.hardwareAddr)}, mac(link.hardware_addr))`);
    if (selector.driver) parts.push(`glob(${celString(selector.driver)}, link.driver)`);
    if (selector.busPath) parts.push(`glob(${celString(selector.busPath)}, link.bus_path)`);
    selectorCel = parts.join(' && ');
    if (spec.talos.configStyle === 'documents' && /^(eth|en|wl|bond|br)[a-z0-9]*$/.test(link)) {
      fail('talos.interface', `with a deviceSelector the link gets an alias, and "${link}" looks like a kernel interface name`, 'Talos advises against aliases like eth0 or ens3 (they can collide with real links); set talos.interface to an alias such as uplink');
    }
  }

  const certSANs = [...new Set([spec.endpoint, vip.address, ...spec.talos.certSANs])];
  return {
    kind: 'vip', vip: vip.address, family, prefixLength, gateway, link,
    ...(selectorCel ? { selectorCel, legacySelector: { ...selector } } : {}),
    nameservers: spec.talos.nameservers,
    endpointUrl: endpointUrl(spec, port),
    certSANs,
    nodes,
  };
}

/** One control-plane node, no VIP: the endpoint (its address or a name for it) and the certificate names, nothing to elect. */
function planSingleNode(spec: Spec): SingleNodePlan {
  if (spec.controlPlane.length !== 1) {
    fail('vip', `render talos needs a VIP for ${spec.controlPlane.length} control-plane nodes`, 'add vip: { address: <an unused address in the control-plane subnet> } (with one control-plane node, render talos writes only the endpoint and certSANs)');
  }
  const [node] = spec.controlPlane;
  const port = apiPort(spec, 'one control-plane node without a balancer');
  return {
    kind: 'single',
    endpointUrl: endpointUrl(spec, port),
    certSANs: [...new Set([spec.endpoint, ...spec.talos.certSANs])],
    node: { name: node.name, address: node.address, cidr: `${node.address}/${spec.talos.prefixLength}` },
  };
}

/** The Kubernetes API port clients use, when nothing between them and the apiserver maps ports. */
function apiPort(spec: Spec, via: string): number {
  const listener = listenerOf(spec, 'kubernetes');
  const listenerIndex = listener ? spec.listeners.indexOf(listener) : -1;
  if (listener && listener.port !== listener.targetPort) {
    fail(`listeners[${listenerIndex}].port`, `the kubernetes listener maps ${listener.port} to ${listener.targetPort}, but ${via} forwards nothing: clients reach the apiserver on its own port`, `set port and targetPort to the same value (6443)`);
  }
  const override = firstPortOverride(spec, spec.listeners.filter((l) => l.targets === 'controlPlane'));
  if (override) {
    fail(override.path, `${override.node} serves ${override.listener.name} on ${override.port}, but ${via} forwards nothing: clients reach every node on the listener's port ${override.listener.port}`, `remove ${override.path} for render talos; every control-plane node serves ${override.listener.name} on the listener's port`);
  }
  return listener?.port ?? 6443;
}

function endpointUrl(spec: Spec, port: number): string {
  return `https://${joinHostPort(spec.endpoint, port)}`;
}
