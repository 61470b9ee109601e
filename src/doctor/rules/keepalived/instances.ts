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
    return {
      file, node, name: node.args[0] ?? '', priority: numberArg(priority), priorityLine: priority?.line ?? node.line,
      virtualRouterId: numberArg(child(node, 'virtual_router_id')), tracked,
    };
  });
}

export const KEEPALIVED_MAN = 'keepalived.conf(5), https://keepalived.readthedocs.io/en/latest/configuration_synopsis.html#vrrp-script-definitions';
