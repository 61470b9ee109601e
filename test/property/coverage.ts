// Which fields a generated spec sets to something other than their default: a field counts when the spec
// requires it, or when leaving it out changes the normalized spec (what every consumer reads).
import { isDeepStrictEqual } from 'node:util';
import { normalize } from '../../src/spec/normalize.js';
import type { RawSpec } from '../../src/spec/schema.js';
import { slots, withValue, type Raw } from './paths.js';

const normalized = (raw: Raw) => normalize(raw as RawSpec, 'endpoint.yaml');

/** The table's names of the fields this (valid) spec sets to a value other than the default. */
export function nonDefaultFields(raw: Raw): Set<string> {
  const base = normalized(raw);
  const out = new Set<string>();
  for (const slot of slots(raw)) {
    if (!slot.present || out.has(slot.field)) continue;
    if (slot.required) { out.add(slot.field); continue; }
    let same: boolean;
    try {
      same = isDeepStrictEqual(normalized(withValue(raw, slot.parts, undefined)), base);
    } catch {
      same = false;
    }
    if (!same) out.add(slot.field);
  }
  return out;
}
