// Updates an existing kubeconfig / talosconfig in place: only the server / endpoints / nodes change,
// comments and every other key stay. The pure functions take text; the *File functions do the I/O.
import { copyFile, rename, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { isMap, isSeq, parseDocument, type Document, type YAMLMap } from 'yaml';
import { UserError } from '../../errors.js';
import { readTextFile } from '../../read-file.js';
import type { Spec } from '../../spec/types.js';
import { defaultTalosNode, kubernetesApiUrl, talosEndpoints } from './endpoints.js';

export interface UpdateResult { text: string; changed: boolean; summary: string }
export interface FileUpdateResult { changed: boolean; summary: string; backup?: string }

function parse(text: string, file: string): Document {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new UserError('USAGE', `${file} is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`, { hint: 'pass the kubeconfig / talosconfig file itself' });
  if (!isMap(doc.contents)) throw new UserError('USAGE', `${file} is not a YAML mapping`, { hint: 'pass the kubeconfig / talosconfig file itself' });
  return doc;
}

/** Sets clusters[name == cluster.name].cluster.server. */
export function updateKubeconfig(text: string, spec: Spec, file = 'kubeconfig'): UpdateResult {
  const doc = parse(text, file);
  const clusters = doc.get('clusters');
  const names: string[] = [];
  if (isSeq(clusters)) {
    for (const item of clusters.items) {
      if (!isMap(item)) continue;
      const name = String(item.get('name'));
      names.push(name);
      if (name !== spec.cluster.name) continue;
      const server = kubernetesApiUrl(spec);
      const before = item.getIn(['cluster', 'server']);
      if (before === server) return { text, changed: false, summary: `cluster ${name} already uses ${server}` };
      item.setIn(['cluster', 'server'], server);
      return { text: doc.toString(), changed: true, summary: `cluster ${name}: server ${String(before ?? '(none)')} -> ${server}` };
    }
  }
  throw new UserError('USAGE', `${file} has no cluster named "${spec.cluster.name}" (clusters: ${names.join(', ') || 'none'})`, {
    hint: 'pass the kubeconfig of this cluster (talosctl kubeconfig writes one), or set cluster.name in the spec to the kubeconfig\'s cluster name',
  });
}

/** Sets endpoints and nodes of the context named cluster.name (else the current context). */
export function updateTalosconfig(text: string, spec: Spec, file = 'talosconfig'): UpdateResult {
  const doc = parse(text, file);
  const contexts = doc.get('contexts');
  const current = doc.get('context');
  const names = isMap(contexts) ? contexts.items.map((pair) => String((pair.key as { value?: unknown })?.value ?? pair.key)) : [];
  const name = names.includes(spec.cluster.name) ? spec.cluster.name : typeof current === 'string' && names.includes(current) ? current : undefined;
  if (!name || !isMap(contexts)) {
    throw new UserError('USAGE', `${file} has no context named "${spec.cluster.name}" and no usable current context (contexts: ${names.join(', ') || 'none'})`, {
      hint: 'pass the talosconfig talosctl gen config wrote for this cluster',
    });
  }
  const context = contexts.get(name) as YAMLMap;
  const endpoints = talosEndpoints(spec);
  const nodes = [defaultTalosNode(spec)];
  const same = (key: string, want: string[]) => JSON.stringify((context.get(key) as { toJSON?: () => unknown } | undefined)?.toJSON?.() ?? null) === JSON.stringify(want);
  if (same('endpoints', endpoints) && same('nodes', nodes)) return { text, changed: false, summary: `context ${name} already uses endpoints ${endpoints.join(', ')}` };
  context.set('endpoints', doc.createNode(endpoints));
  context.set('nodes', doc.createNode(nodes));
  return { text: doc.toString(), changed: true, summary: `context ${name}: endpoints ${endpoints.join(', ')}, nodes ${nodes.join(', ')}` };
}

function stamp(now: Date): string {
  return now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function updateFile(file: string, now: Date, update: (text: string) => UpdateResult): Promise<FileUpdateResult> {
  // A regular file of bounded size: a FIFO or a device is an error at once, never a hang.
  const text = await readTextFile(file, { maxBytes: 4 * 1024 * 1024, codes: { file: 'USAGE', limit: 'USAGE' }, hint: 'pass an existing file; render clients writes clients.sh with the commands otherwise' });
  const result = update(text);
  if (!result.changed) return { changed: false, summary: result.summary };
  const backup = `${file}.bak-${stamp(now)}`;
  await copyFile(file, backup, constants.COPYFILE_EXCL);
  const { mode } = await stat(file);
  // Write next to the file and rename, so a crash never leaves a half-written kubeconfig.
  const temporary = `${file}.tmp-${process.pid}`;
  await writeFile(temporary, result.text, { mode: mode & 0o777 });
  await rename(temporary, file);
  return { changed: true, summary: result.summary, backup };
}

export function updateKubeconfigFile(file: string, spec: Spec, now = new Date()): Promise<FileUpdateResult> {
  return updateFile(file, now, (text) => updateKubeconfig(text, spec, file));
}

export function updateTalosconfigFile(file: string, spec: Spec, now = new Date()): Promise<FileUpdateResult> {
  return updateFile(file, now, (text) => updateTalosconfig(text, spec, file));
}
