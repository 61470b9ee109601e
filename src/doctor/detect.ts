// Which kind of file is this? By name first, then by content.
import { basename } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { FileKind } from './context.js';
import { SPEC_LIMITS } from '../spec/load.js';
import { deeperThan } from '../spec/yaml-depth.js';
import { isJsonPatch } from './parsers/json-patch.js';

export function detectKind(path: string, text: string): FileKind | undefined {
  const name = basename(path).toLowerCase();
  if (/\.tf$|\.tfvars$/.test(name)) return 'terraform';
  if (/talosconfig/.test(name)) return 'talosconfig';
  // By its name a spec (endpoint.yaml, prod-endpoint.yaml), unless its content is plainly a Talos or Kubernetes
  // document (a kube-endpoint.yaml holding an Endpoints object is not ours).
  if (/(^|[.-])endpoint\.ya?ml$/.test(name)) return detectYaml(text) === 'talos' ? 'talos' : 'spec';
  if (/keepalived/.test(name)) return 'keepalived';
  if (/haproxy/.test(name)) return 'haproxy';
  if (/^bird.*\.conf$/.test(name)) return 'bird';
  if (/^\s*protocol\s+(bgp|kernel|device|static|bfd)\b/m.test(text)) return 'bird';
  if (/^\s*(vrrp_instance|vrrp_script|global_defs|virtual_server)\b/m.test(text)) return 'keepalived';
  if (/^\s*(frontend|backend|listen)\s+\S+/m.test(text) && /^\s*(defaults|global|server|bind)\b/m.test(text)) return 'haproxy';
  if (/^\s*(variable|resource|module|provider|terraform)\s+("[^"]*"\s*)*\{/m.test(text)) return 'terraform';
  return detectYaml(text);
}

function detectYaml(text: string): FileKind | undefined {
  // Too deep to parse safely is not a config of any kind (runDoctor says why).
  if (deeperThan(text, SPEC_LIMITS.depth)) return undefined;
  let documents: unknown[];
  try {
    documents = parseAllDocuments(text).map((d) => d.toJS() as unknown);
  } catch {
    return undefined;
  }
  // A JSON 6902 patch (talosctl patch --patch @file): the only lists doctor reads.
  if (documents.some(isJsonPatch)) return 'talos';
  const records = documents.filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null && !Array.isArray(d));
  if (records.some((d) => 'contexts' in d && 'context' in d)) return 'talosconfig';
  if (records.some((d) => 'controlPlane' in d && 'endpoint' in d)) return 'spec';
  if (records.some((d) => 'machine' in d || ('cluster' in d && 'version' in d) || isClusterPatch(d.cluster) || (typeof d.apiVersion === 'string' && typeof d.kind === 'string'))) return 'talos';
  return undefined;
}

/** A patch of Talos's cluster section alone (a worker's: cluster.controlPlane.endpoint); a spec's cluster is its name. */
function isClusterPatch(cluster: unknown): boolean {
  const controlPlane = typeof cluster === 'object' && cluster !== null ? (cluster as Record<string, unknown>).controlPlane : undefined;
  return typeof controlPlane === 'object' && controlPlane !== null && !Array.isArray(controlPlane);
}
