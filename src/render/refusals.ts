// What a renderer says when its engine cannot express the spec: every problem at once, each naming the field
// to change, as `validate` does — not the first one, then the next after the user fixed that.
import { UserError } from '../errors.js';
import type { Spec } from '../spec/types.js';
import { FIELD_USES, fieldOfPath, type FieldUse, type RefusedField, type Target } from './fields.js';

/** One value the target cannot express. `path` is the spec field as the user writes it (listeners[2].balance). */
export interface Refusal {
  path: string;
  message: string;
  hint: string;
}

/** `path: message`, the one-line form every renderer error has used. */
export const formatRefusal = (r: Refusal): string => (r.path ? `${r.path}: ${r.message}` : r.message);

/**
 * A renderer refused the spec. `message` and `hint` are the first refusal's, so code that shows one
 * error still shows something true; `refusals` holds all of them.
 */
export class RenderRefused extends UserError {
  readonly refusals: readonly Refusal[];

  constructor(refusals: readonly Refusal[]) {
    const [first] = refusals;
    super('RENDER', formatRefusal(first), { hint: first.hint });
    this.refusals = refusals;
  }
}

/** The refusals of any render error: all of them for RenderRefused, the message and hint of another UserError. */
export function refusalsOf(error: UserError): readonly Refusal[] {
  return error instanceof RenderRefused ? error.refusals : [{ path: '', message: error.message, hint: error.hint ?? '' }];
}

/**
 * Collects a target's refusals while it plans, then throws them together. A refusal names a field the table
 * (src/render/fields.ts) says the target refuses; `at` is the concrete path when the field is in a list
 * (field listeners[].balance, at listeners[2].balance).
 */
export class Refusals<T extends Target> {
  readonly #list: Refusal[] = [];

  constructor(readonly target: T) {}

  add(field: RefusedField<T>, message: string, hint: string, at: string = field): void {
    // Both are bugs in the renderer, caught by its tests: the table and the refusals must say the same.
    const named = fieldOfPath(at);
    // A key under a map field names the field (controlPlane[1].ports.talos is controlPlane[].ports).
    if (named !== field && !named.startsWith(`${field}.`)) throw new Error(`refusal at ${at} does not name the field ${field}`);
    if (!(FIELD_USES[this.target] as Record<string, FieldUse>)[field]?.refuses) throw new Error(`src/render/fields.ts does not say that ${this.target} refuses ${field}`);
    this.#list.push({ path: at, message, hint });
  }

  /** As add, for a field known only at run time (a health check's, at healthCheck.X or listeners[i].healthCheck.X). */
  addAt(at: string, message: string, hint: string): void {
    this.add(fieldOfPath(at) as RefusedField<T>, message, hint, at);
  }

  get count(): number {
    return this.#list.length;
  }

  /** Throws RenderRefused with everything collected; returns when nothing was. */
  throwIfAny(): void {
    if (this.#list.length > 0) throw new RenderRefused([...this.#list]);
  }
}

/** The spec path of a listener's health check, for refusals: healthCheck when it is the spec's, else the listener's own. */
export function checkPath(spec: Spec, index: number): string {
  return spec.listeners[index].healthCheck === spec.healthCheck ? 'healthCheck' : `listeners[${index}].healthCheck`;
}
