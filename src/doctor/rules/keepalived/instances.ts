// VRRP instances and the scripts they track, as doctor's keepalived rules see them.
import type { KeepalivedFile } from '../../context.js';
import { child, children, numberArg, topLevel, type KeepalivedNode } from '../../parsers/keepalived.js';

export interface TrackedScript {
  name: string;
  /** The track_script entry line. */
  line: number;
  /** The vrrp_script block, when defined anywhere in the file. */
  script?: KeepalivedNode;
  /** Effective weight: the entry's `weight N` override, else the script's `weight`, else 0. */
  weight: number;
  /** Line that sets the effective weight (the override, the script's weight line, or the entry). */
  weightLine: number;
}

export interface Instance {
  file: KeepalivedFile;
  node: KeepalivedNode;
  name: string;
  priority?: number;
  priorityLine: number;
  virtualRouterId?: number;
  tracked: TrackedScript[];
  interface?: string;
  /** state as written (keepalived knows MASTER and BACKUP only, case-sensitive: "master" is BACKUP). */
  state?: string;
  /** advert_int in seconds (keepalived's default 1). */
  advertInt: number;
  advertIntLine?: number;
  /** virtual_ipaddress entries: address (no prefix), the prefix when written, the line. */
  vips: Array<{ address: string; prefix?: number; line: number }>;
  unicastSrc?: { address: string; line: number };
  /** unicast_peer entries; undefined when the instance has no unicast_peer block (multicast). */
  unicastPeers?: Array<{ address: string; line: number }>;
  unicastPeerLine?: number;
}

export function instances(file: KeepalivedFile): Instance[] {
  const scripts = new Map(topLevel(file.config, 'vrrp_script').map((s) => [s.args[0] ?? '', s]));
  return topLevel(file.config, 'vrrp_instance').map((node) => {
    const priority = child(node, 'priority');
    const tracked = children(node, 'track_script').flatMap((block) => block.children).map((entry): TrackedScript => {
      const script = scripts.get(entry.keyword);
      const weightAt = entry.args.indexOf('weight');
      const override = weightAt >= 0 ? numberArg(entry, weightAt + 1) : undefined;
      const scriptWeight = child(script, 'weight');
      if (override !== undefined) return { name: entry.keyword, line: entry.line, script, weight: override, weightLine: entry.line };
      return { name: entry.keyword, line: entry.line, script, weight: numberArg(scriptWeight) ?? 0, weightLine: scriptWeight?.line ?? entry.line };
    });
    const advert = child(node, 'advert_int');
    const src = child(node, 'unicast_src_ip');
    const peers = child(node, 'unicast_peer');
    return {
      file, node, name: node.args[0] ?? '', priority: numberArg(priority), priorityLine: priority?.line ?? node.line,
      virtualRouterId: numberArg(child(node, 'virtual_router_id')), tracked,
      interface: child(node, 'interface')?.args[0],
      state: child(node, 'state')?.args[0],
      advertInt: Number(advert?.args[0] ?? 1),
      ...(advert ? { advertIntLine: advert.line } : {}),
      vips: children(node, 'virtual_ipaddress').flatMap((block) => block.children).map((entry) => {
        const [address, prefix] = entry.keyword.split('/');
        return { address, ...(prefix !== undefined ? { prefix: Number(prefix) } : {}), line: entry.line };
      }),
      ...(src?.args[0] ? { unicastSrc: { address: src.args[0], line: src.line } } : {}),
      ...(peers ? { unicastPeers: peers.children.map((p) => ({ address: p.keyword, line: p.line })), unicastPeerLine: peers.line } : {}),
    };
  });
}

/**
 * The peers of an instance among every keepalived file given: instances in other files with the same
 * virtual_router_id whose VIPs overlap (or that have none to compare).
 */
export function peersOf(instance: Instance, all: Instance[]): Instance[] {
  return all.filter((other) => other.file !== instance.file && other.virtualRouterId !== undefined && other.virtualRouterId === instance.virtualRouterId && sharesVip(instance, other));
}

export function sharesVip(a: Instance, b: Instance): boolean {
  if (a.vips.length === 0 || b.vips.length === 0) return true;
  return a.vips.some((v) => b.vips.some((w) => w.address === v.address));
}

/** Each instance of this file with each of its peers in the other files. */
export function peerPairs(file: KeepalivedFile, files: ReadonlyArray<{ kind: string }>): Array<[Instance, Instance]> {
  const all = allInstances(files);
  return instances(file).flatMap((instance) => peersOf(instance, all).map((peer): [Instance, Instance] => [instance, peer]));
}

/** Every instance of every keepalived file doctor was given. */
export function allInstances(files: ReadonlyArray<{ kind: string }>): Instance[] {
  return files.filter((f): f is KeepalivedFile => f.kind === 'keepalived').flatMap((f) => instances(f));
}

export const KEEPALIVED_MAN = 'keepalived.conf(5), https://keepalived.readthedocs.io/en/latest/configuration_synopsis.html#vrrp-script-definitions';
