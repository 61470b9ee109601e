// YAML files (single or multi-document: Talos machine configs, patches, talosconfig) with a way back
// from a value's path to its line.
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { positionOf } from '../../spec/yaml-position.js';

export interface YamlDocument {
  /** The document as plain data (undefined for an empty document). */
  data: unknown;
  /** Line of the key or item at `path` (numbers index lists); the nearest ancestor found, else the document's first line. */
  lineOf(path: ReadonlyArray<string | number>): number;
}

export interface YamlFile {
  documents: YamlDocument[];
  errors: Array<{ line: number; message: string }>;
}

export function parseYamlDocuments(text: string): YamlFile {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const all = Array.isArray(parsed) ? parsed : [];
  const errors: YamlFile['errors'] = [];
  const documents: YamlDocument[] = [];
  for (const doc of all) {
    for (const error of doc.errors) errors.push({ line: lineCounter.linePos(error.pos[0]).line, message: error.message.split('\n')[0] });
    if (doc.errors.length > 0) continue;
    documents.push({ data: doc.toJS() as unknown, lineOf: locate(doc, lineCounter) });
  }
  return { documents, errors };
}

function locate(doc: Document, lineCounter: LineCounter) {
  return (path: ReadonlyArray<string | number>): number => positionOf(doc, lineCounter, path)?.line ?? 1;
}

/** Loose readers for parsed YAML: the spec rules' readers, under the names doctor's rules use. */
export { record as asRecord, text as asString } from '../../spec/rules/rule.js';

export function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
