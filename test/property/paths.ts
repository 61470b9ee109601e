// Places in a raw spec (the object endpoint.yaml parses to), walked along the schema: each field of the fields
// table (src/render/fields.ts) at each concrete path it has in one spec, read, set and removed without touching
// the original.
import type { TSchema } from '@sinclair/typebox';
import { formatPath } from '../../src/spec/problem.js';
import { EndpointSpecSchema } from '../../src/spec/schema.js';

export type Part = string | number;
export type Raw = Record<string, unknown>;

/** One place a field of the table can have in a spec: listeners[].port at listeners[1].port. */
export interface Slot {
  /** The table's name: listeners[].port. */
  field: string;
  parts: Part[];
  /** listeners[1].port */
  path: string;
  /** The spec sets it (else only its parent exists: a value can be added there). */
  present: boolean;
  /** The schema requires it where its parent is. */
  required: boolean;
}

const isObject = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Every slot of a spec: each leaf field (a scalar, a list of scalars, a map like ports) the schema has under an
 * object the spec holds, set or not. Lists of objects (controlPlane, listeners) give one set of slots per entry.
 */
export function slots(raw: Raw, schema: TSchema = EndpointSpecSchema): Slot[] {
  const out: Slot[] = [];
  const walk = (node: TSchema, value: Raw, field: string, parts: Part[]) => {
    const required = new Set<string>((node.required as string[] | undefined) ?? []);
    for (const [key, child] of Object.entries(node.properties as Record<string, TSchema>)) {
      if (key === '$schema') continue;
      const childField = field ? `${field}.${key}` : key;
      const childParts = [...parts, key];
      const present = value[key] !== undefined;
      if (child.type === 'object' && child.properties) {
        if (isObject(value[key])) walk(child, value[key] as Raw, childField, childParts);
      } else if (child.type === 'array' && (child.items as TSchema | undefined)?.type === 'object') {
        if (Array.isArray(value[key])) (value[key] as unknown[]).forEach((item, index) => { if (isObject(item)) walk(child.items as TSchema, item, `${childField}[]`, [...childParts, index]); });
      } else {
        out.push({ field: childField, parts: childParts, path: formatPath(childParts), present, required: required.has(key) });
      }
    }
  };
  walk(schema, raw, '', []);
  return out;
}

export function getAt(raw: unknown, parts: readonly Part[]): unknown {
  let value = raw;
  for (const part of parts) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string | number, unknown>)[part];
  }
  return value;
}

/** A copy of the spec with the value at parts replaced (undefined removes it). */
export function withValue(raw: Raw, parts: readonly Part[], value: unknown): Raw {
  const copy = structuredClone(raw);
  let parent = copy as Record<string | number, unknown>;
  for (const part of parts.slice(0, -1)) parent = parent[part] as Record<string | number, unknown>;
  const last = parts[parts.length - 1];
  if (value === undefined) delete parent[last];
  else parent[last] = structuredClone(value);
  return copy;
}

/** Splits listeners[2].healthCheck.path into its parts. */
export function parsePath(path: string): Part[] {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]));
}
