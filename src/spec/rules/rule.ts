import type { Problem } from '../problem.js';

/**
 * A semantic check on the raw spec. Rules run even when the JSON Schema found problems, so each one
 * reads the document defensively (the `view` helpers below) and reports only what it owns.
 */
export interface Rule {
  id: string;
  check(raw: RawView): Problem[];
}

/** A loosely typed view of the parsed YAML. */
export type RawView = Record<string, unknown>;

export function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [];
}

export function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Indexed entries of a list that keep their position in the original array (for paths). */
export function entries(value: unknown): Array<[number, Record<string, unknown>]> {
  if (!Array.isArray(value)) return [];
  const out: Array<[number, Record<string, unknown>]> = [];
  value.forEach((item, index) => {
    if (typeof item === 'object' && item !== null) out.push([index, item as Record<string, unknown>]);
  });
  return out;
}
