// What doctor reads from Talos machine configs and patches: VIPs, node addresses, certSANs, version hints.
// Two forms: legacy (machine.network.interfaces[].vip, Talos ≤ 1.11) and documents (Layer2VIPConfig,
// LinkConfig; Talos ≥ 1.12).
import { isIP } from 'node:net';
import type { DoctorContext, TalosconfigFile, TalosFile } from '../../context.js';
import { versionAtLeast } from '../../context.js';
import { asList, asRecord, asString, type YamlDocument } from '../../parsers/yaml-documents.js';

export interface Located<T> { value: T; line: number }

/** Network document kinds introduced with Talos 1.12: their presence says the file targets ≥ 1.12. */
const V112_KINDS = new Set(['LinkConfig', 'Layer2VIPConfig', 'HCloudVIPConfig', 'BondConfig', 'VLANConfig', 'BridgeConfig', 'DHCPv4Config', 'DHCPv6Config', 'HostnameConfig', 'ResolverConfig', 'StaticHostConfig', 'TimeSyncConfig', 'DummyLinkConfig', 'LinkAliasConfig', 'RoutingRuleConfig']);

function interfaces(doc: YamlDocument): Array<{ index: number; body: Record<string, unknown> }> {
  return asList(asRecord(asRecord(asRecord(doc.data).machine).network).interfaces).map((body, index) => ({ index, body: asRecord(body) }));
}

/** Legacy VIPs: machine.network.interfaces[].vip.ip (and .vlans[].vip.ip). */
export function legacyVips(file: TalosFile): Array<Located<string>> {
  const out: Array<Located<string>> = [];
  for (const doc of file.yaml.documents) {
    for (const { index, body } of interfaces(doc)) {
      const ip = asString(asRecord(body.vip).ip);
      if (ip) out.push({ value: ip, line: doc.lineOf(['machine', 'network', 'interfaces', index, 'vip']) });
      asList(body.vlans).forEach((vlan, v) => {
        const vlanIp = asString(asRecord(asRecord(vlan).vip).ip);
        if (vlanIp) out.push({ value: vlanIp, line: doc.lineOf(['machine', 'network', 'interfaces', index, 'vlans', v, 'vip']) });
      });
    }
  }
  return out;
}

/** Every VIP in the file, both forms. */
export function vips(file: TalosFile): Array<Located<string>> {
  const out = legacyVips(file);
  for (const doc of file.yaml.documents) {
    const data = asRecord(doc.data);
    if (data.kind === 'Layer2VIPConfig' && typeof data.name === 'string') out.push({ value: data.name, line: doc.lineOf(['name']) });
  }
  return out;
}

/** Node addresses with prefix ("192.168.30.31/24"), both forms. */
export function nodeAddresses(file: TalosFile): Array<Located<string>> {
  const out: Array<Located<string>> = [];
  for (const doc of file.yaml.documents) {
    for (const { index, body } of interfaces(doc)) {
      asList(body.addresses).forEach((address, a) => {
        if (typeof address === 'string') out.push({ value: address, line: doc.lineOf(['machine', 'network', 'interfaces', index, 'addresses', a]) });
      });
      if (typeof body.cidr === 'string') out.push({ value: body.cidr, line: doc.lineOf(['machine', 'network', 'interfaces', index, 'cidr']) });
    }
    const data = asRecord(doc.data);
    if (data.kind === 'LinkConfig') {
      asList(data.addresses).forEach((entry, a) => {
        const address = asString(asRecord(entry).address);
        if (address) out.push({ value: address, line: doc.lineOf(['addresses', a]) });
      });
    }
  }
  return out;
}

/**
 * Every address the file gives the node, on any link: nodeAddresses plus VLAN addresses (legacy
 * interfaces[].vlans[].addresses / .cidr) and the addresses of every 1.12 link document (VLANConfig, BondConfig,
 * BridgeConfig, DummyLinkConfig, ...). Talos puts all of them in the node's certificates (see certsans-endpoint.ts).
 */
export function allNodeAddresses(file: TalosFile): Array<Located<string>> {
  const out = nodeAddresses(file);
  for (const doc of file.yaml.documents) {
    for (const { index, body } of interfaces(doc)) {
      asList(body.vlans).forEach((vlan, v) => {
        const record = asRecord(vlan);
        asList(record.addresses).forEach((address, a) => {
          if (typeof address === 'string') out.push({ value: address, line: doc.lineOf(['machine', 'network', 'interfaces', index, 'vlans', v, 'addresses', a]) });
        });
        if (typeof record.cidr === 'string') out.push({ value: record.cidr, line: doc.lineOf(['machine', 'network', 'interfaces', index, 'vlans', v, 'cidr']) });
      });
    }
    const data = asRecord(doc.data);
    if (typeof data.kind === 'string' && data.kind !== 'LinkConfig' && LINK_KINDS.has(data.kind)) {
      asList(data.addresses).forEach((entry, a) => {
        const address = asString(asRecord(entry).address);
        if (address) out.push({ value: address, line: doc.lineOf(['addresses', a]) });
      });
    }
  }
  return out;
}

/** Every node address of every talosconfig context (`nodes:`): the machines talosctl talks to. */
export function talosconfigNodes(file: TalosconfigFile): string[] {
  return file.yaml.documents.flatMap((doc) => Object.values(asRecord(asRecord(doc.data).contexts)).flatMap((body) => asList(asRecord(body).nodes).map(String)));
}

/** certSANs lists the file sets: machine.certSANs (Talos API) and cluster.apiServer.certSANs (Kubernetes API). */
export function certSanLists(file: TalosFile): Array<Located<string[]> & { path: string }> {
  const out: Array<Located<string[]> & { path: string }> = [];
  for (const doc of file.yaml.documents) {
    const data = asRecord(doc.data);
    const machine = asRecord(data.machine).certSANs;
    if (Array.isArray(machine)) out.push({ value: machine.map(String), line: doc.lineOf(['machine', 'certSANs']), path: 'machine.certSANs' });
    const api = asRecord(asRecord(data.cluster).apiServer).certSANs;
    if (Array.isArray(api)) out.push({ value: api.map(String), line: doc.lineOf(['cluster', 'apiServer', 'certSANs']), path: 'cluster.apiServer.certSANs' });
  }
  return out;
}

/** cluster.controlPlane.endpoint as written, with its line. */
export function controlPlaneEndpointEntry(file: TalosFile): Located<string> | undefined {
  for (const doc of file.yaml.documents) {
    const url = asString(asRecord(asRecord(asRecord(doc.data).cluster).controlPlane).endpoint);
    if (url) return { value: url, line: doc.lineOf(['cluster', 'controlPlane', 'endpoint']) };
  }
  return undefined;
}

/** The parts of an endpoint URL ("https://api.example.com:6443"); undefined when it is not a URL. */
export function parseEndpointUrl(url: string): { protocol: string; host: string; port?: number } | undefined {
  try {
    const parsed = new URL(url);
    return { protocol: parsed.protocol.replace(/:$/, ''), host: parsed.hostname.replace(/^\[|\]$/g, ''), ...(parsed.port ? { port: Number(parsed.port) } : {}) };
  } catch {
    return undefined;
  }
}

/** Host of cluster.controlPlane.endpoint ("https://api.example.com:6443" → "api.example.com"). */
export function controlPlaneEndpoint(file: TalosFile): string | undefined {
  const entry = controlPlaneEndpointEntry(file);
  return entry ? parseEndpointUrl(entry.value)?.host : undefined;
}

/** One talosconfig endpoint: its context, its place in the list, the text as written, its host, its port (as written, when it names one) and its line. */
export interface TalosconfigEndpoint { context: string; index: number; raw: string; host: string; port?: string; line: number }

/** Every endpoint of every context of a talosconfig, in file order. */
export function talosconfigEndpoints(file: TalosconfigFile): TalosconfigEndpoint[] {
  const out: TalosconfigEndpoint[] = [];
  for (const doc of file.yaml.documents) {
    for (const [context, body] of Object.entries(asRecord(asRecord(doc.data).contexts))) {
      asList(asRecord(body).endpoints).forEach((value, index) => {
        const raw = String(value);
        const host = isIP(raw) ? raw : raw.replace(/^\[?([^\]]+?)\]?(:\d+)?$/, '$1');
        const port = /^(?:\[[^\]]+\]|[^:]+):(\d+)$/.exec(raw)?.[1];
        out.push({ context, index, raw, host, ...(port !== undefined ? { port } : {}), line: doc.lineOf(['contexts', context, 'endpoints', index]) });
      });
    }
  }
  return out;
}

/** machine.type (controlplane, worker, init) when the file states it. */
export function machineType(file: TalosFile): Located<string> | undefined {
  for (const doc of file.yaml.documents) {
    const type = asString(asRecord(asRecord(doc.data).machine).type);
    if (type) return { value: type, line: doc.lineOf(['machine', 'type']) };
  }
  return undefined;
}

/** Documents that name a link (Talos >= 1.12): a Layer2VIPConfig's link must be one of them, or a real kernel link. */
export const LINK_KINDS = new Set(['LinkConfig', 'LinkAliasConfig', 'VLANConfig', 'BondConfig', 'BridgeConfig', 'DummyLinkConfig', 'WireguardConfig', 'DHCPv4Config', 'DHCPv6Config']);

export function linkDocuments(file: TalosFile): Array<Located<string> & { kind: string }> {
  return file.yaml.documents.flatMap((doc) => {
    const data = asRecord(doc.data);
    return typeof data.kind === 'string' && LINK_KINDS.has(data.kind) && typeof data.name === 'string' ? [{ value: data.name, line: doc.lineOf(['name']), kind: data.kind }] : [];
  });
}

/** Layer2VIPConfig documents: the VIP, its link, and the line of the link. */
export function layer2Vips(file: TalosFile): Array<Located<string> & { link?: string; linkLine: number }> {
  return file.yaml.documents.flatMap((doc) => {
    const data = asRecord(doc.data);
    if (data.kind !== 'Layer2VIPConfig' || typeof data.name !== 'string') return [];
    return [{ value: data.name, line: doc.lineOf(['name']), ...(typeof data.link === 'string' ? { link: data.link } : {}), linkLine: doc.lineOf(['link']) }];
  });
}

/**
 * The Talos version the file targets, as far as is known: --talos-version, else "1.12" when the file
 * also has 1.12-style network documents, else the installer image tag (machine.install.image).
 */
export function targetVersion(file: TalosFile, context: DoctorContext): string | undefined {
  if (context.options.talosVersion) return context.options.talosVersion;
  for (const doc of file.yaml.documents) {
    const data = asRecord(doc.data);
    if (typeof data.kind === 'string' && V112_KINDS.has(data.kind)) return '1.12';
  }
  for (const doc of file.yaml.documents) {
    const image = asString(asRecord(asRecord(asRecord(doc.data).machine).install).image);
    const tag = image ? /:v?(\d+\.\d+(?:\.\d+)?)/.exec(image) : null;
    if (tag) return tag[1];
  }
  return undefined;
}

export function isAtLeast112(version: string | undefined): boolean | undefined {
  return version === undefined ? undefined : versionAtLeast(version, '1.12');
}

export const TALOS_VIP_DOCS = 'https://www.talos.dev/v1.11/talos-guides/network/vip/';
