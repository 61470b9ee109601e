// The rehearsal's plan, a pure function of what was given: the lab (segments, control-plane nodes, LB hosts
// with the addresses and interface names the files name, a client), the engines each LB host runs with which
// file, how the stand-in kube-apiservers behave (read from Talos / kubeadm configs), the timings the
// configuration promises (its checks, its VRRP adverts, its idle timeouts — or the spec's) and the drill's
// steps. `--dry-run` prints it; run.ts builds it.
import { basename, dirname } from 'node:path';
import { parseDocument } from 'yaml';
import { apiOf, serverSetting, type Api } from '../doctor/rules/haproxy/backends.js';
import { instances, type Instance } from '../doctor/rules/keepalived/instances.js';
import { bindPorts, effective, haproxyTimeMs, proxies, servers, type HaproxyConfig } from '../doctor/parsers/haproxy.js';
import { parseKeepalived, topLevel } from '../doctor/parsers/keepalived.js';
import { EXIT, UserError } from '../errors.js';
import { formatDuration } from '../spec/duration.js';
import type { Spec } from '../spec/types.js';
import { joinHostPort } from '../spec/address.js';
import { vipForPeer } from '../spec/hosts.js';
import type { HaproxyInput, KeepalivedInput, RehearsalInputs, YamlInput } from './inputs.js';
import { cidr, contains, freeAddress, isIpv4, subnetOf, type Subnet } from './ipv4.js';

export const STEP_NAMES = ['baseline', 'idle', 'node-reboot', 'node-crash', 'node-blackhole', 'api-unready', 'lb-engine-crash', 'lb-host-crash', 'lb-link-cut', 'reload'] as const;
export type StepName = (typeof STEP_NAMES)[number];

export const STEP_TITLES: Record<StepName, string> = {
  'baseline': 'steady traffic, nothing disturbed',
  'idle': 'watch streams left idle',
  'node-reboot': 'a node drained and rebooted (graceful kube-apiserver shutdown)',
  'node-crash': 'a node crashed (gone without a word)',
  'node-blackhole': 'a node black-holed (its packets dropped, the node still up)',
  'api-unready': 'the API unready while its port stays open',
  'lb-engine-crash': 'the balancer crashed on the VIP holder (the host stays up)',
  'lb-host-crash': 'the LB host holding the VIP crashed',
  'lb-link-cut': "the VIP holder's link cut",
  'reload': 'the engines reloaded on every LB host',
};

/** Where a value came from: a file and line, or a named default. */
export interface Source { text: string; file?: string; line?: number }

export interface PlannedNode {
  name: string;
  role: 'controlPlane' | 'worker';
  address: string;
  segment: string;
  kubernetesPort?: number;
  talosPort?: number;
  from: Source;
}

export type EngineName = 'haproxy' | 'keepalived' | 'serve';

export interface EngineFile {
  /** The file as given (causes point at it). */
  source: string;
  /** What the engine reads: the file's text, paths it names mapped into the lab (@CHECK_PEM@, @CA@, @FILE:name|path@). */
  text: string;
  /** For a keepalived.conf made from another one's comments: the lines changed and why. */
  derived?: string;
}

export interface PlannedLbHost {
  name: string;
  links: Array<{ name: string; segment: string; addresses: string[] }>;
  address: string;
  engines: EngineName[];
  haproxy?: EngineFile;
  keepalived?: EngineFile;
  priority?: number;
  from: Source;
}

export interface IdleTimeout { ms: number; what: string; from: Source }

export interface Timing {
  /** A node taken out by its check within this (the files' or the spec's check timing). */
  nodeDetectMs: number;
  nodeDetectFrom: Source;
  /** A node back in service within this after it is back. */
  nodeRejoinMs: number;
  /** The VIP on another LB host within this after its holder is gone (VRRP: 3 adverts missed, plus the skew). */
  lbFailoverMs: number;
  lbFailoverFrom: Source;
  /** The VIP on another LB host within this after the balancer on its holder dies (the track script, then VRRP). */
  lbEngineFailoverMs: number;
  /** Idle timeouts on the API paths, shortest first. */
  idleTimeouts: IdleTimeout[];
  /** How long the idle step leaves watches idle. */
  idleMs: number;
}

export interface PlannedStep { name: StepName; target?: string; holdMs: number }

export interface ApiServerPlan {
  anonymousAuth: boolean;
  anonymousFrom: Source;
  shutdownDelayMs: number;
  shutdownDelayFrom: Source;
  kubernetesSans: string[];
  talosSans: string[];
}

export interface RehearsalPlan {
  mode: 'files' | 'serve';
  endpoint: { address: string; kubernetesPort?: number; talosPort?: number; vip: boolean; from: Source };
  segments: Array<{ name: string; cidr: string }>;
  nodes: PlannedNode[];
  lbHosts: PlannedLbHost[];
  client: { address: string; segment: string };
  router?: { links: Array<{ segment: string; address: string }> };
  apiserver: ApiServerPlan;
  timing: Timing;
  steps: PlannedStep[];
  /** serve mode: the spec serve runs (paths mapped into the lab). */
  serveSpec?: EngineFile;
  /** serve mode: where each LB host's serve answers its admin API (on the host's own loopback). */
  serveAdmin?: { url: string; token?: string };
  /** Files the configurations name by path, taken from the files given (by name): written to the lab. */
  scripts: Array<{ name: string; source: string; text: string; mode: number }>;
  /** Assumptions and things not rehearsed, said once. */
  notes: string[];
}

export interface PlanOptions {
  serve: boolean;
  steps?: StepName[];
  /** The longest the idle step waits (--idle). */
  idleCapMs: number;
}

/** How long a step may hold its disturbance at most, whatever the configuration's timings say. */
export const MAX_HOLD_MS = 30_000;
/**
 * Margin on top of a promised time before a step restores what it disturbed: the verdict's slack (1.5 s) plus
 * half a second in which failures (some ten requests) prove the promise was not kept.
 */
const HOLD_MARGIN_MS = 2000;
/** kube-apiserver's --min-request-timeout: watches last 30–60 minutes unless the client says otherwise. */
export const WATCH_LIFETIME_MS = 1_800_000;
/** HAProxy's defaults for a server's check (configuration manual, 5.2 "inter", "rise", "fall"). */
const HAPROXY_CHECK = { interMs: 2000, rise: 2, fall: 3 };

const plainFile = (path: string): Source => ({ text: path, file: path });
const at = (file: string, line: number, text?: string): Source => ({ text: text ?? `${file}:${line}`, file, line });

function usage(message: string, hint: string): UserError {
  return new UserError('USAGE', message, { hint, exitCode: EXIT.invalid });
}

export function planRehearsal(inputs: RehearsalInputs, options: PlanOptions): RehearsalPlan {
  if (options.serve && (inputs.haproxy.length || inputs.keepalived.length)) throw usage('--serve rehearses the built-in balancer: give no haproxy.cfg or keepalived.conf with it', 'cluster-endpoint rehearse -c endpoint.yaml --serve, or cluster-endpoint rehearse [-c endpoint.yaml] haproxy.cfg keepalived.conf …');
  if (options.serve && !inputs.spec) throw usage('--serve needs the spec', 'cluster-endpoint rehearse -c endpoint.yaml --serve');
  if (!options.serve && inputs.haproxy.length === 0) {
    throw usage(inputs.keepalived.length ? 'keepalived alone balances nothing: give the haproxy.cfg it fronts too' : 'nothing to rehearse: give haproxy.cfg (and keepalived.conf for each LB host), or --serve with the spec', 'cluster-endpoint rehearse haproxy.cfg lb-01/keepalived.conf lb-02/keepalived.conf, or cluster-endpoint rehearse -c endpoint.yaml --serve');
  }
  const notes: string[] = [];
  const layout = options.serve ? serveLayout(inputs.spec!.spec, inputs.spec!.path) : filesLayout(inputs, notes);
  const apiserver = apiServerPlan(inputs, layout, notes);
  const timing = options.serve ? serveTiming(inputs.spec!.spec, inputs.spec!.path, options) : filesTiming(inputs, layout, options, notes);
  if (inputs.spec && !options.serve) applySpecPromises(timing, inputs.spec.spec, inputs.spec.path);
  const steps = planSteps(layout, timing, options, notes);
  const plan: RehearsalPlan = { mode: options.serve ? 'serve' : 'files', ...layout, apiserver, timing, steps, scripts: [], notes };
  if (options.serve) {
    const spec = inputs.spec!.spec;
    plan.serveSpec = serveSpecFile(inputs.spec!.text, inputs.spec!.path);
    plan.serveAdmin = { url: `http://${joinHostPort(spec.balancer.admin.host === '0.0.0.0' ? '127.0.0.1' : spec.balancer.admin.host === '::' ? '::1' : spec.balancer.admin.host, spec.balancer.admin.port)}`, ...(spec.balancer.adminToken ? { token: spec.balancer.adminToken } : {}) };
  }
  mapScripts(plan, inputs, notes);
  return plan;
}

type Layout = Pick<RehearsalPlan, 'endpoint' | 'segments' | 'nodes' | 'lbHosts' | 'client' | 'router'>;

// ---------------------------------------------------------------- files: haproxy.cfg + keepalived.conf

interface FoundNode { name: string; address: string; ports: Map<number, Api>; roles: Set<Api>; from: Source }

/** Every server of the API backends, by address: the control-plane (and worker) nodes. */
function nodesFromHaproxy(file: HaproxyInput): FoundNode[] {
  const found = new Map<string, FoundNode>();
  for (const section of proxies(file.config)) {
    const api = apiOf(file.config, section);
    if (!api || section.kind === 'frontend') continue;
    for (const server of servers(section)) {
      if (server.directive.words[0] === 'server-template') throw usage(`${file.path}:${server.line}: server-template names no addresses`, 'write one server line per node (rehearse needs their addresses)');
      const address = server.address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      if (!isIpv4(address)) throw usage(`${file.path}:${server.line}: server ${server.name} is at "${server.address}", not an IPv4 address`, 'rehearse builds its lab on the addresses the files name: use addresses (IPv6 labs are not supported yet)');
      const port = server.port ?? 0;
      const isBackup = server.flags.includes('backup');
      const node = found.get(address) ?? { name: server.name, address, ports: new Map(), roles: new Set(), from: at(file.path, server.line) };
      if (!isBackup && found.has(address) === false) node.name = server.name;
      if (!isBackup && node.name.endsWith('-fail-open')) node.name = server.name;
      node.ports.set(port, api);
      node.roles.add(api);
      found.set(address, node);
    }
  }
  return [...found.values()];
}

/** The port a frontend (or listen section) sending to an API's backends binds. */
function frontendPort(config: HaproxyConfig, api: Api, preferred: number): number | undefined {
  const ports: number[] = [];
  for (const section of proxies(config)) {
    if (section.kind === 'backend') continue;
    if (apiOf(config, section) !== api) continue;
    ports.push(...bindPorts(section));
  }
  return ports.includes(preferred) ? preferred : ports[0];
}

/**
 * The LB host names: router_id, else the folders when every file has its own (lb-01/keepalived.conf), else the
 * file names without "keepalived" (keepalived-lb1.conf → lb1) when they differ, else lb-01, lb-02, …
 */
function hostNames(files: Array<{ file: KeepalivedInput; derived?: string }>): string[] {
  const clean = (name: string | undefined) => name?.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 20) || undefined;
  const numbered = files.map((_, i) => `lb-${String(i + 1).padStart(2, '0')}`);
  const distinct = (names: Array<string | undefined>) => names.every(Boolean) && new Set(names).size === names.length;
  const routerIds = files.map((k) => (k.derived ? undefined : clean(topLevel(k.file.config, 'global_defs').flatMap((g) => g.children).find((c) => c.keyword === 'router_id')?.args[0])));
  if (distinct(routerIds)) return routerIds as string[];
  const folders = files.map((k) => (k.derived ? undefined : clean(basename(dirname(k.file.path)))));
  if (files.length > 1 && distinct(folders)) return folders as string[];
  const own = files.map((k) => (k.derived ? undefined : clean(basename(k.file.path).replace(/\.conf$/, '').replace(/^keepalived[-_.]?/, ''))));
  if (files.length > 1 && distinct(own)) return own as string[];
  return numbered;
}

/**
 * One keepalived.conf written for two hosts, with the second host's values in comments ("state MASTER  # BACKUP
 * on secondary", "priority 100  # 90 on secondary"): the second host's file, those values put in. Lines stay
 * where they are, so causes still point into the file as given.
 */
export function deriveSecondary(text: string): { text: string; changes: string[] } | undefined {
  const changes: string[] = [];
  const lines = text.split(/\r?\n/).map((raw, index) => {
    const match = /^(\s*)(state|priority)\s+(\S+)(\s*[#!]\s*)(\S+)\s+(?:on|for)\s+(?:the\s+)?(secondary|backup|standby|second|other|peer|slave)\b(.*)$/i.exec(raw);
    if (!match) return raw;
    const [, indent, keyword, value, sep, other, who, rest] = match;
    changes.push(`line ${index + 1}: ${keyword} ${other} instead of ${value} ("${other} on ${who}")`);
    return `${indent}${keyword} ${other}${sep}${value} on the first host, as given${rest}`;
  });
  if (changes.length === 0) return undefined;
  // Unicast: the second host sends from its own address to the first.
  return { text: lines.join('\n'), changes };
}

function mainInstance(file: KeepalivedInput): Instance | undefined {
  const all = instances({ kind: 'keepalived', path: file.path, text: file.text, config: file.config });
  return all.find((i) => i.vips.length > 0) ?? all[0];
}

function filesLayout(inputs: RehearsalInputs, notes: string[]): Layout {
  const haproxyFiles = inputs.haproxy;
  const nodes = new Map<string, FoundNode>();
  for (const file of haproxyFiles) for (const node of nodesFromHaproxy(file)) if (!nodes.has(node.address)) nodes.set(node.address, node);
  if (nodes.size === 0) throw usage(`${haproxyFiles[0].path}: no backend sends to the Kubernetes (6443) or Talos (50000) API`, 'rehearse needs the backends of kube-apiserver and apid with their server addresses');

  // LB hosts: one per keepalived.conf (a file that describes its peer in comments gives two), else one.
  let keepaliveds: Array<{ file: KeepalivedInput; text: string; derived?: string }> = inputs.keepalived.map((file) => ({ file, text: file.text }));
  if (keepaliveds.length === 1) {
    const secondary = deriveSecondary(keepaliveds[0].file.text);
    if (secondary) {
      keepaliveds.push({ file: keepaliveds[0].file, text: secondary.text, derived: `${keepaliveds[0].file.path} as its comments describe the second host (${secondary.changes.join('; ')})` });
      notes.push(`one keepalived.conf for two LB hosts: the second runs it with the values its comments name (${secondary.changes.join('; ')})`);
    }
  }
  if (haproxyFiles.length > 1 && haproxyFiles.length !== Math.max(1, keepaliveds.length)) {
    throw usage(`${haproxyFiles.length} haproxy.cfg files for ${keepaliveds.length} LB hosts`, 'give one haproxy.cfg for every LB host (in the same folders as their keepalived.conf), or one for all');
  }
  const parsed = keepaliveds.map((k) => ({ ...k, instance: mainInstance({ ...k.file, text: k.text, config: parseKeepalived(k.text) }) }));
  const vipEntry = parsed.flatMap((k) => k.instance?.vips ?? [])[0];
  if (vipEntry && !isIpv4(vipEntry.address)) throw usage(`the VIP ${vipEntry.address} is not IPv4`, 'IPv6 labs are not supported yet');

  // Subnets: the VIP's (with its prefix), else /24 around the addresses named.
  const subnets: Array<{ name: string; subnet: Subnet }> = [];
  const segmentFor = (address: string, prefix = 24): string => {
    const known = subnets.find((s) => contains(s.subnet, address));
    if (known) return known.name;
    const name = `net${subnets.length}`;
    subnets.push({ name, subnet: subnetOf(address, prefix) });
    return name;
  };
  const used = new Set<string>([...nodes.keys()]);
  if (vipEntry) { segmentFor(vipEntry.address, vipEntry.prefix ?? 24); used.add(vipEntry.address); }

  const names = parsed.length ? hostNames(parsed) : ['lb-01'];
  const lbHosts: PlannedLbHost[] = [];
  const sources = parsed.length ? parsed : [undefined];
  const peersNamed = parsed.flatMap((k) => k.instance?.unicastPeers?.map((p) => p.address) ?? []);
  sources.forEach((k, index) => {
    const instance = k?.instance;
    const name = names[index];
    let address = instance?.unicastSrc?.address;
    if (k?.derived && parsed[0].instance?.unicastPeers?.length === 1) address = parsed[0].instance.unicastPeers[0].address;
    if (!address && !k?.derived) address = undefined;
    lbHosts.push({
      name, links: [], address: address ?? '', engines: [...(haproxyFiles.length ? ['haproxy' as const] : []), ...(k ? ['keepalived' as const] : [])],
      haproxy: haproxyEngineFile(haproxyFiles[Math.min(index, haproxyFiles.length - 1)]),
      ...(k ? { keepalived: { source: k.file.path, text: k.text, ...(k.derived ? { derived: k.derived } : {}) } } : {}),
      ...(instance?.priority !== undefined ? { priority: k?.derived ? Number(/priority\s+(\d+)/.exec(k.text.split('\n')[instance.priorityLine - 1])?.[1] ?? instance.priority) : instance.priority } : {}),
      from: k ? plainFile(k.derived ? `${k.file.path} (second host)` : k.file.path) : { text: 'a single LB host (no keepalived.conf)' },
    });
    if (address) used.add(address);
  });
  for (const peer of peersNamed) used.add(peer);
  // LB hosts without an address named anywhere get free ones on the VIP's subnet (else the nodes').
  const lbSegmentAddress = vipEntry?.address ?? [...nodes.keys()][0];
  const lbSegment = segmentFor(lbSegmentAddress, vipEntry?.prefix ?? 24);
  const lbSubnet = subnets.find((s) => s.name === lbSegment)!.subnet;
  for (const host of lbHosts) {
    if (!host.address) {
      const free = freeAddress(lbSubnet, used, [11, 12, 13, 14, 15, 21, 22, 23]);
      if (!free) throw usage(`no free address for ${host.name} in ${cidr(lbSubnet)}`, 'name the LB hosts\' addresses with unicast_src_ip');
      host.address = free;
      used.add(free);
      notes.push(`${host.name} has no address in the files (no unicast_src_ip): the lab gives it ${free}`);
    } else if (!isIpv4(host.address)) {
      throw usage(`${host.from.text}: unicast_src_ip ${host.address} is not IPv4`, 'IPv6 labs are not supported yet');
    }
  }
  lbHosts.forEach((host, index) => {
    const k = parsed[index];
    const instance = k?.instance;
    const segment = segmentFor(host.address, vipEntry?.prefix ?? 24);
    const ifname = instance?.interface ?? 'eth0';
    const prefix = subnets.find((s) => s.name === segment)!.subnet.prefix;
    host.links.push({ name: ifname, segment, addresses: [`${host.address}/${prefix}`] });
    // Other interfaces the file names (track_interface, a VIP's dev) exist too, on a segment of their own.
    for (const other of k ? otherInterfaces(k.text, ifname) : []) host.links.push({ name: other, segment: 'spare', addresses: [] });
  });

  const plannedNodes: PlannedNode[] = [...nodes.values()].map((node) => {
    const kubernetesPort = [...node.ports].find(([, api]) => api === 'kubernetes')?.[0];
    const talosPort = [...node.ports].find(([, api]) => api === 'talos')?.[0];
    return {
      name: node.name, role: node.roles.has('kubernetes') ? 'controlPlane' : 'worker', address: node.address, segment: segmentFor(node.address),
      ...(kubernetesPort ? { kubernetesPort } : {}), ...(talosPort ? { talosPort } : {}), from: node.from,
    };
  });
  dedupeNames(plannedNodes);

  const config = haproxyFiles[0].config;
  const kubernetesPort = frontendPort(config, 'kubernetes', 6443);
  const talosPort = frontendPort(config, 'talos', 50000);
  if (!kubernetesPort && !talosPort) throw usage(`${haproxyFiles[0].path}: no frontend binds a port for the API backends`, 'rehearse sends its traffic to the frontends that send to the kube-apiserver and apid backends');
  const endpoint = vipEntry
    ? { address: vipEntry.address, vip: true, from: at(parsed.find((k) => k.instance?.vips.includes(vipEntry))?.file.path ?? '', vipEntry.line, `the VIP (${parsed.find((k) => k.instance?.vips.includes(vipEntry))?.file.path}:${vipEntry.line})`) }
    : { address: lbHosts[0].address, vip: false, from: { text: `${lbHosts[0].name}'s address (no VIP: one LB host)` } };
  return finishLayout({ endpoint: { ...endpoint, ...(kubernetesPort ? { kubernetesPort } : {}), ...(talosPort ? { talosPort } : {}) }, nodes: plannedNodes, lbHosts }, subnets, used, lbSegment);
}

function otherInterfaces(text: string, main: string): string[] {
  const names = new Set<string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#!].*$/, '');
    for (const match of line.matchAll(/\bdev\s+(\S+)/g)) names.add(match[1]);
    const iface = /^\s*interface\s+(\S+)/.exec(line);
    if (iface) names.add(iface[1]);
  }
  let inTrack = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#!].*$/, '').trim();
    if (/^track_interface\b/.test(line)) { inTrack = true; continue; }
    if (inTrack && line.startsWith('}')) { inTrack = false; continue; }
    if (inTrack && line) names.add(line.split(/\s+/)[0]);
  }
  names.delete(main);
  names.delete('{');
  return [...names].filter((n) => /^[A-Za-z0-9_.@-]{1,15}$/.test(n));
}

function dedupeNames(nodes: Array<{ name: string }>): void {
  const seen = new Map<string, number>();
  for (const node of nodes) {
    const clean = node.name.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 20) || 'node';
    const count = seen.get(clean) ?? 0;
    seen.set(clean, count + 1);
    node.name = count ? `${clean}-${count + 1}` : clean;
  }
}

/** The haproxy.cfg as the lab runs it: certificate and CA files of its checks become the lab's own. */
function haproxyEngineFile(file: HaproxyInput | undefined): EngineFile | undefined {
  if (!file) return undefined;
  const lines = file.text.split(/\r?\n/).map((line) => {
    if (!/^\s*(server|default-server|server-template)\s/.test(line)) return line;
    return line.replace(/(\s)crt\s+\S+/g, '$1crt @CHECK_PEM@').replace(/(\s)ca-file\s+\S+/g, '$1ca-file @CA@');
  });
  return { source: file.path, text: lines.join('\n') };
}

// ---------------------------------------------------------------- serve: the spec

function serveLayout(spec: Spec, path: string): Layout {
  const subnets: Array<{ name: string; subnet: Subnet }> = [];
  const prefix = spec.vip?.prefixLength ?? 24;
  const segmentFor = (address: string, p = 24): string => {
    const known = subnets.find((s) => contains(s.subnet, address));
    if (known) return known.name;
    const name = `net${subnets.length}`;
    subnets.push({ name, subnet: subnetOf(address, p) });
    return name;
  };
  for (const address of [spec.endpoint, ...spec.controlPlane.map((n) => n.address), ...spec.workers.map((n) => n.address), ...(spec.vip?.peers.map((p) => p.address) ?? [])]) {
    if (!isIpv4(address)) throw usage(`${path}: ${address} is not an IPv4 address`, 'rehearse builds its lab on the spec\'s addresses: use IPv4 addresses (DNS names and IPv6 labs are not supported yet)');
  }
  const used = new Set<string>([spec.endpoint, ...spec.controlPlane.map((n) => n.address), ...spec.workers.map((n) => n.address)]);
  if (spec.vip) segmentFor(spec.vip.address, prefix);
  const peers = spec.vip?.peers.length ? spec.vip.peers : [{ name: 'lb-01', address: spec.endpoint, priority: 100 }];
  const lbHosts: PlannedLbHost[] = peers.map((peer) => {
    const segment = segmentFor(peer.address, prefix);
    used.add(peer.address);
    return {
      name: peer.name, address: peer.address, engines: ['serve'], priority: peer.priority,
      links: [{ name: (spec.vip ? vipForPeer(spec.vip, peer).interface : undefined) ?? 'eth0', segment, addresses: [`${peer.address}/${subnets.find((s) => s.name === segment)!.subnet.prefix}`] }],
      from: { text: spec.vip ? `vip.peers ${peer.name} (${path})` : `the spec's endpoint (${path}): one LB host`, file: path },
    };
  });
  const port = (role: string) => spec.listeners.find((l) => l.role === role)?.port;
  const targetPort = (role: string) => spec.listeners.find((l) => l.role === role)?.targetPort;
  const nodes: PlannedNode[] = [
    ...spec.controlPlane.map((n) => ({ name: n.name, role: 'controlPlane' as const, address: n.address, segment: segmentFor(n.address), ...(targetPort('kubernetes') ? { kubernetesPort: n.ports?.kubernetes ?? targetPort('kubernetes') } : {}), ...(targetPort('talos') ? { talosPort: targetPort('talos') } : {}), from: { text: `controlPlane ${n.name} (${path})`, file: path } })),
    ...spec.workers.map((n) => ({ name: n.name, role: 'worker' as const, address: n.address, segment: segmentFor(n.address), ...(targetPort('talos-workers') ?? targetPort('talos') ? { talosPort: targetPort('talos-workers') ?? targetPort('talos') } : {}), from: { text: `workers ${n.name} (${path})`, file: path } })),
  ];
  const lbSegment = segmentFor(spec.endpoint, prefix);
  const endpoint = { address: spec.endpoint, vip: Boolean(spec.vip?.peers.length), ...(port('kubernetes') ? { kubernetesPort: port('kubernetes') } : {}), ...(port('talos') ? { talosPort: port('talos') } : {}), from: { text: `endpoint (${path})`, file: path } };
  return finishLayout({ endpoint, nodes, lbHosts }, subnets, used, lbSegment);
}

/** serve's spec in the lab: its check's certificate files become the lab's own. */
function serveSpecFile(text: string, path: string): EngineFile {
  const doc = parseDocument(text);
  const rewrite = (base: Array<string | number>) => {
    if (doc.hasIn([...base, 'clientCertificate'])) {
      doc.setIn([...base, 'clientCertificate', 'certFile'], '@CHECK_CERT@');
      doc.setIn([...base, 'clientCertificate', 'keyFile'], '@CHECK_KEY@');
    }
    if (doc.hasIn([...base, 'caFile'])) doc.setIn([...base, 'caFile'], '@CA@');
  };
  rewrite(['healthCheck']);
  const listeners = doc.getIn(['listeners']) as { items?: unknown[] } | undefined;
  (listeners?.items ?? []).forEach((_item, index) => rewrite(['listeners', index, 'healthCheck']));
  // serve's admin surface stays on each LB host's own loopback.
  return { source: path, text: doc.toString() };
}

/** Segments, the client (on the endpoint's segment) and, when the lab spans several subnets, a router. */
function finishLayout(base: Pick<Layout, 'endpoint' | 'nodes' | 'lbHosts'>, subnets: Array<{ name: string; subnet: Subnet }>, used: Set<string>, clientSegment: string): Layout {
  const clientSubnet = subnets.find((s) => s.name === clientSegment)!.subnet;
  const clientAddress = freeAddress(clientSubnet, used, [], true);
  if (!clientAddress) throw usage(`no free address for the client in ${cidr(clientSubnet)}`, 'use a subnet with room for one more host');
  used.add(clientAddress);
  const layout: Layout = { ...base, segments: subnets.map((s) => ({ name: s.name, cidr: cidr(s.subnet) })), client: { address: clientAddress, segment: clientSegment } };
  if (subnets.length > 1) {
    layout.router = { links: subnets.map((s) => ({ segment: s.name, address: freeAddress(s.subnet, used, [], true) ?? '' })) };
    for (const link of layout.router.links) used.add(link.address);
  }
  if (base.lbHosts.some((h) => h.links.some((l) => l.segment === 'spare'))) layout.segments.push({ name: 'spare', cidr: '' });
  return layout;
}

// ---------------------------------------------------------------- kube-apiserver: Talos and kubeadm configs

function extraArg(doc: Record<string, unknown>, name: string, kind: 'talos' | 'kubeadm'): string | undefined {
  const apiServer = kind === 'talos'
    ? (doc.cluster as Record<string, unknown> | undefined)?.apiServer as Record<string, unknown> | undefined
    : doc.apiServer as Record<string, unknown> | undefined;
  const args = apiServer?.extraArgs;
  if (Array.isArray(args)) {
    // kubeadm v1beta4: a list of { name, value }.
    const found = args.find((a) => (a as Record<string, unknown>)?.name === name) as Record<string, unknown> | undefined;
    return found?.value === undefined ? undefined : String(found.value);
  }
  const value = (args as Record<string, unknown> | undefined)?.[name];
  return value === undefined ? undefined : String(value);
}

function findArg(files: YamlInput[], name: string, kind: 'talos' | 'kubeadm'): { value: string; file: string; line?: number } | undefined {
  for (const file of files) {
    for (const doc of file.documents) {
      const value = extraArg(doc, name, kind);
      if (value !== undefined) {
        const line = file.text.split('\n').findIndex((l) => l.includes(name)) + 1;
        return { value, file: file.path, ...(line > 0 ? { line } : {}) };
      }
    }
  }
  return undefined;
}

function apiServerPlan(inputs: RehearsalInputs, layout: Layout, notes: string[]): ApiServerPlan {
  const talosFiles = inputs.talos;
  const kubeadmFiles = inputs.kubeadm.filter((f) => f.documents.some((d) => d.kind === 'ClusterConfiguration'));
  const anon = findArg(talosFiles, 'anonymous-auth', 'talos') ?? findArg(kubeadmFiles, 'anonymous-auth', 'kubeadm');
  const balancesTalos = layout.nodes.some((n) => n.talosPort !== undefined) || talosFiles.length > 0;
  let anonymousAuth: boolean;
  let anonymousFrom: Source;
  if (anon) {
    anonymousAuth = anon.value !== 'false';
    anonymousFrom = { text: `anonymous-auth: "${anon.value}" (${anon.file}${anon.line ? `:${anon.line}` : ''})`, file: anon.file, ...(anon.line ? { line: anon.line } : {}) };
  } else if (balancesTalos && kubeadmFiles.length === 0) {
    anonymousAuth = false;
    anonymousFrom = { text: talosFiles.length ? `Talos runs kube-apiserver with --anonymous-auth=false (since 1.2) and ${talosFiles[0].path} does not turn it on` : 'the files balance the Talos API (port 50000), so the nodes run Talos, whose kube-apiserver has --anonymous-auth=false (since 1.2)' };
  } else {
    anonymousAuth = true;
    anonymousFrom = { text: kubeadmFiles.length ? `kube-apiserver's default (--anonymous-auth=true; ${kubeadmFiles[0].path} leaves it)` : "kube-apiserver's default (--anonymous-auth=true)" };
  }
  const delay = findArg(talosFiles, 'shutdown-delay-duration', 'talos') ?? findArg(kubeadmFiles, 'shutdown-delay-duration', 'kubeadm');
  const delayMs = delay ? goDurationMs(delay.value) : 0;
  if (delay && delayMs === undefined) notes.push(`shutdown-delay-duration "${delay.value}" (${delay.file}) is not a duration: using kube-apiserver's default 0s`);
  const kubernetesSans: string[] = [];
  const talosSans: string[] = [];
  let namesFromConfig = false;
  for (const file of talosFiles) {
    for (const doc of file.documents) {
      const cluster = doc.cluster as Record<string, unknown> | undefined;
      const machine = doc.machine as Record<string, unknown> | undefined;
      const endpoint = (cluster?.controlPlane as Record<string, unknown> | undefined)?.endpoint;
      if (typeof endpoint === 'string') { namesFromConfig = true; kubernetesSans.push(hostOf(endpoint)); }
      const apiSans = (cluster?.apiServer as Record<string, unknown> | undefined)?.certSANs;
      if (Array.isArray(apiSans)) { namesFromConfig = true; kubernetesSans.push(...apiSans.map(String)); }
      if (Array.isArray(machine?.certSANs)) talosSans.push(...(machine.certSANs as unknown[]).map(String));
    }
  }
  for (const file of kubeadmFiles) {
    for (const doc of file.documents) {
      if (typeof doc.controlPlaneEndpoint === 'string') { namesFromConfig = true; kubernetesSans.push(hostOf(doc.controlPlaneEndpoint)); }
      const sans = (doc.apiServer as Record<string, unknown> | undefined)?.certSANs;
      if (Array.isArray(sans)) { namesFromConfig = true; kubernetesSans.push(...sans.map(String)); }
    }
  }
  if (!namesFromConfig) kubernetesSans.push(layout.endpoint.address);
  // talosctl through a balancer checks its address against machine.certSANs; without a Talos config, assume it is there.
  if (talosFiles.length === 0) talosSans.push(layout.endpoint.address);
  return {
    anonymousAuth, anonymousFrom,
    shutdownDelayMs: delayMs ?? 0,
    shutdownDelayFrom: delay && delayMs !== undefined ? { text: `shutdown-delay-duration: ${delay.value} (${delay.file}${delay.line ? `:${delay.line}` : ''})`, file: delay.file, ...(delay.line ? { line: delay.line } : {}) } : { text: "kube-apiserver's default (--shutdown-delay-duration=0s)" },
    kubernetesSans: [...new Set(kubernetesSans)], talosSans: [...new Set(talosSans)],
  };
}

function hostOf(url: string): string {
  try { return new URL(url).hostname.replace(/^\[|\]$/g, ''); } catch { return url.replace(/:\d+$/, ''); }
}

/** A Go duration ("70s", "1m30s", "500ms"). */
export function goDurationMs(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return text === '0' ? 0 : undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
    ms += Number(n) * ({ ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit] ?? 0);
  }
  return Math.round(ms);
}

// ---------------------------------------------------------------- timings: what the configuration promises

function filesTiming(inputs: RehearsalInputs, layout: Layout, options: PlanOptions, notes: string[]): Timing {
  const file = inputs.haproxy[0];
  const config = file.config;
  let detect = 0;
  let rejoin = 0;
  let detectFrom: Source = { text: 'HAProxy\'s check defaults (inter 2s, fall 3, rise 2)' };
  for (const section of proxies(config)) {
    if (section.kind === 'frontend' || !apiOf(config, section)) continue;
    for (const server of servers(section)) {
      if (server.flags.includes('backup')) continue;
      const setting = (keyword: string) => serverSetting(config, section, server, keyword);
      const interMs = haproxyTimeMs(setting('inter')?.value) ?? HAPROXY_CHECK.interMs;
      const fastMs = haproxyTimeMs(setting('fastinter')?.value) ?? interMs;
      const fall = Number(setting('fall')?.value ?? HAPROXY_CHECK.fall);
      const rise = Number(setting('rise')?.value ?? HAPROXY_CHECK.rise);
      const checkTimeoutMs = haproxyTimeMs(effective(config, section, 'timeout', 'check')?.words[2]) ?? interMs;
      // The next check is scheduled once one ends: the first failure after inter + timeout, each further one a
      // fastinter + timeout later.
      const d = interMs + checkTimeoutMs + (fall - 1) * (fastMs + checkTimeoutMs);
      if (d > detect) {
        detect = d;
        const line = setting('inter')?.line ?? setting('fall')?.line ?? server.line;
        detectFrom = at(file.path, line, `the checks of ${section.name} (${file.path}:${line}): every ${formatDuration(interMs)}, ${fall} failure(s) in a row, ${formatDuration(checkTimeoutMs)} timeout`);
      }
      rejoin = Math.max(rejoin, interMs + (rise - 1) * fastMs);
    }
  }
  // VRRP: a BACKUP takes over after 3 missed adverts plus its skew (RFC 3768 6.1: Master_Down_Interval); a
  // failing track script lowers the holder's priority after interval × fall (+ its timeout).
  let advertMs = 1000;
  let scriptMs = 0;
  let vrrpFrom: Source = { text: 'keepalived\'s default advert_int 1' };
  for (const host of layout.lbHosts) {
    if (!host.keepalived) continue;
    const config = parseKeepalived(host.keepalived.text);
    const instance = mainInstance({ path: host.keepalived.source, text: host.keepalived.text, config });
    if (!instance) continue;
    if (instance.advertInt * 1000 >= advertMs) {
      advertMs = instance.advertInt * 1000;
      vrrpFrom = instance.advertIntLine ? at(host.keepalived.source, instance.advertIntLine, `advert_int ${instance.advertInt} (${host.keepalived.source}:${instance.advertIntLine})`) : vrrpFrom;
    }
    for (const tracked of instance.tracked) {
      const child = (k: string) => tracked.script?.children.find((c) => c.keyword === k)?.args[0];
      const interval = Number(child('interval') ?? 1) * 1000;
      scriptMs = Math.max(scriptMs, interval * Number(child('fall') ?? 1) + Number(child('timeout') ?? interval / 1000) * 1000);
    }
  }
  const lbFailoverMs = Math.round(4 * advertMs);
  const idleTimeouts = haproxyIdleTimeouts(file);
  return {
    nodeDetectMs: detect || HAPROXY_CHECK.interMs * 2 * HAPROXY_CHECK.fall, nodeDetectFrom: detectFrom,
    nodeRejoinMs: rejoin || HAPROXY_CHECK.interMs * HAPROXY_CHECK.rise,
    lbFailoverMs, lbFailoverFrom: vrrpFrom,
    lbEngineFailoverMs: lbFailoverMs + scriptMs,
    idleTimeouts, idleMs: idleMsFor(idleTimeouts, options, notes),
  };
}

/** The idle timeout of every API proxy: `timeout tunnel` when set (it supersedes client and server), else both. */
function haproxyIdleTimeouts(file: HaproxyInput): IdleTimeout[] {
  const out = new Map<number, IdleTimeout>();
  for (const section of proxies(file.config)) {
    if (!apiOf(file.config, section)) continue;
    const tunnel = effective(file.config, section, 'timeout', 'tunnel');
    const sides = tunnel ? [tunnel] : [section.kind !== 'backend' ? effective(file.config, section, 'timeout', 'client') : undefined, section.kind !== 'frontend' ? effective(file.config, section, 'timeout', 'server') : undefined];
    for (const directive of sides) {
      const ms = haproxyTimeMs(directive?.words[2]);
      if (!directive || ms === undefined) continue;
      out.set(directive.line, { ms, what: `timeout ${directive.words[1]} ${directive.words[2]}`, from: at(file.path, directive.line) });
    }
  }
  return [...out.values()].sort((a, b) => a.ms - b.ms);
}

function idleMsFor(timeouts: IdleTimeout[], options: PlanOptions, notes: string[]): number {
  const shortest = timeouts[0];
  if (!shortest) return 3000;
  if (shortest.ms + 2000 <= options.idleCapMs) return shortest.ms + 2000;
  if (shortest.ms < WATCH_LIFETIME_MS) notes.push(`${shortest.what} (${shortest.from.text}) is longer than the idle the rehearsal waits (${formatDuration(options.idleCapMs)}): watches are not idled that long; --idle ${formatDuration(shortest.ms + 60_000)} measures it`);
  return Math.min(options.idleCapMs, 5000);
}

function serveTiming(spec: Spec, path: string, options: PlanOptions): Timing {
  const api = spec.listeners.filter((l) => l.role === 'kubernetes' || l.role === 'talos');
  const detect = Math.max(...api.map((l) => detectMs(l.healthCheck)));
  const rejoin = Math.max(...api.map((l) => l.healthCheck.intervalMs + (l.healthCheck.healthyThreshold - 1) * l.healthCheck.fastIntervalMs));
  const advert = spec.vip?.advertIntervalMs ?? 1000;
  const idleTimeouts: IdleTimeout[] = spec.balancer.mode === 'proxy' ? [{ ms: spec.balancer.idleTimeoutMs, what: `balancer.idleTimeout ${formatDuration(spec.balancer.idleTimeoutMs)}`, from: { text: `balancer.idleTimeout (${path})`, file: path } }] : [];
  return {
    nodeDetectMs: detect, nodeDetectFrom: { text: `healthCheck (${path}): every ${formatDuration(spec.healthCheck.intervalMs)}, ${spec.healthCheck.unhealthyThreshold} failures, ${formatDuration(spec.healthCheck.timeoutMs)} timeout`, file: path },
    nodeRejoinMs: rejoin,
    lbFailoverMs: 4 * advert + 1000, lbFailoverFrom: { text: `vip.advertInterval ${formatDuration(advert)} (${path})`, file: path },
    // serve holds the VIP itself: when it dies its adverts stop, as when its host dies.
    lbEngineFailoverMs: 4 * advert + 1000,
    idleTimeouts, idleMs: idleMsFor(idleTimeouts, options, []),
  };
}

/** With a spec, the spec's promises are the ones the files are held to (its checks, its VIP adverts). */
function applySpecPromises(timing: Timing, spec: Spec, path: string): void {
  const hc = spec.healthCheck;
  timing.nodeDetectMs = detectMs(hc);
  timing.nodeDetectFrom = { text: `healthCheck (${path}): every ${formatDuration(hc.intervalMs)}, ${hc.unhealthyThreshold} failures, ${formatDuration(hc.timeoutMs)} timeout`, file: path };
  if (spec.vip) {
    // The VIP moves after 3 missed adverts and the skew; keepalived's own track script (as `render keepalived`
    // writes it: every 1s, 2 failures, 2s timeout) comes on top when the balancer dies but the host does not.
    timing.lbFailoverMs = 4 * spec.vip.advertIntervalMs + 1000;
    timing.lbFailoverFrom = { text: `vip.advertInterval ${formatDuration(spec.vip.advertIntervalMs)} (${path})`, file: path };
    timing.lbEngineFailoverMs = timing.lbFailoverMs + RENDERED_CHECK_MS;
  }
}

/** keepalived's check as `render keepalived` writes it (src/render/keepalived CHECK_SCRIPT): interval 1s × fall 2 + timeout 2s. */
const RENDERED_CHECK_MS = 4000;

/** A node is out at worst after the first check's wait and timeout, then each further failure's fast interval and timeout. */
function detectMs(hc: Spec['healthCheck']): number {
  return hc.intervalMs + hc.timeoutMs + (hc.unhealthyThreshold - 1) * (hc.fastIntervalMs + hc.timeoutMs);
}

// ---------------------------------------------------------------- the drill

function planSteps(layout: Layout, timing: Timing, options: PlanOptions, notes: string[]): PlannedStep[] {
  const wanted = new Set(options.steps ?? STEP_NAMES);
  const controlPlane = layout.nodes.filter((n) => n.role === 'controlPlane');
  const nodes = controlPlane.length ? controlPlane : layout.nodes;
  const nodeHold = Math.min(MAX_HOLD_MS, timing.nodeDetectMs + HOLD_MARGIN_MS);
  const lbHold = Math.min(MAX_HOLD_MS, timing.lbFailoverMs + HOLD_MARGIN_MS);
  const engineHold = Math.min(MAX_HOLD_MS, timing.lbEngineFailoverMs + HOLD_MARGIN_MS);
  if (timing.nodeDetectMs + HOLD_MARGIN_MS > MAX_HOLD_MS) notes.push(`the checks take up to ${formatDuration(timing.nodeDetectMs)} to take a node out; node steps hold ${formatDuration(MAX_HOLD_MS)} at most`);
  const steps: PlannedStep[] = [];
  const node = (i: number) => nodes[i % nodes.length]?.name;
  for (const name of STEP_NAMES) {
    if (!wanted.has(name)) continue;
    switch (name) {
      case 'baseline': steps.push({ name, holdMs: 3000 }); break;
      case 'idle': steps.push({ name, holdMs: timing.idleMs }); break;
      // A real reboot takes minutes: the node stays down at least until its checks can have failed, longer than a
      // balancer's connect retries hide (HAProxy retries a refused connect for up to `retries` seconds).
      case 'node-reboot': steps.push({ name, target: node(0), holdMs: Math.min(MAX_HOLD_MS, timing.nodeDetectMs + 1000) }); break;
      case 'node-crash': steps.push({ name, target: node(1), holdMs: nodeHold }); break;
      case 'node-blackhole': steps.push({ name, target: node(2), holdMs: nodeHold }); break;
      case 'api-unready': steps.push({ name, target: node(0), holdMs: nodeHold }); break;
      case 'reload': steps.push({ name, holdMs: 3000 }); break;
      default:
        if (layout.lbHosts.length < 2) {
          if (!notes.some((n) => n.startsWith('one LB host'))) notes.push('one LB host: nothing to fail over to, so the LB steps are not rehearsed');
          break;
        }
        steps.push({ name, target: 'the VIP holder', holdMs: name === 'lb-engine-crash' ? engineHold : lbHold });
    }
  }
  return steps;
}

// ---------------------------------------------------------------- scripts the keepalived files name by path

/** A script path in a keepalived.conf whose file was given (by name) runs that file; one not given is noted. */
function mapScripts(plan: RehearsalPlan, inputs: RehearsalInputs, notes: string[]): void {
  const given = new Map(inputs.others.map((o) => [o.name, o]));
  for (const host of plan.lbHosts) {
    if (!host.keepalived) continue;
    const lines = host.keepalived.text.split('\n').map((line, index) => {
      if (!/^\s*(script|notify\w*)\s/.test(line)) return line;
      return line.replace(/(?<=["\s])(\/[^\s"']+)/g, (path) => {
        const file = given.get(basename(path));
        if (file) {
          if (!plan.scripts.some((s) => s.name === file.name)) plan.scripts.push({ name: file.name, source: file.path, text: file.text, mode: file.mode });
          return `@FILE:${file.name}|${path}@`;
        }
        if (!notes.some((n) => n.includes(path)) && !/^\/(usr\/)?s?bin\//.test(path)) notes.push(`${host.keepalived!.source}:${index + 1} runs ${path}, which was not given: give it with the files (by the same name) or it runs as this machine has it, if at all`);
        return path;
      });
    });
    host.keepalived.text = lines.join('\n');
  }
}

