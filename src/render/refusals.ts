// What a renderer says when its engine cannot express the spec: every problem at once, each naming the field
// to change, as `validate` does — not the first one, then the next after the user fixed that.
import { UserError } from '../errors.js';

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

/** Collects refusals while a renderer plans, then throws them together. */
export class Refusals {
  readonly #list: Refusal[] = [];

  add(path: string, message: string, hint: string): void {
    this.#list.push({ path, message, hint });
  }

  get count(): number {
    return this.#list.length;
  }

  /** Throws RenderRefused with everything collected; returns when nothing was. */
  throwIfAny(): void {
    if (this.#list.length > 0) throw new RenderRefused([...this.#list]);
  }
}
