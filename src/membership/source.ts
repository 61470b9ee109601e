// Where the members come from. The spec is the first source (its listeners' servers, resolved from
// controlPlane and workers); a source that follows the cluster replaces the control-plane servers with the
// nodes it finds, and says when they change. The daemon plans the registry from what the source answers.
import type { StatusSnapshot } from '../runtime/snapshot.js';
import type { Listener, Spec } from '../spec/types.js';

export interface MembershipSource {
  /** For status and logs: 'spec', 'kubernetes'. */
  readonly name: string;
  /** `spec`'s listeners with the servers this source knows now. A pure read of the source's last state. */
  listeners(spec: Spec): Listener[];
  /** Starts following; `changed` is called whenever listeners() would answer differently. */
  start(changed: () => void): Promise<void>;
  /** Stops following. Idempotent. */
  stop(): Promise<void>;
  /** Its part of the status snapshot, e.g. `{ discovery: … }`. */
  snapshot?(): Partial<StatusSnapshot>;
  /** Members gone from this source are drained for the deregistration delay and listed until then (discovery). */
  readonly drainsRemoved?: boolean;
}

/** The spec's own servers: what the file says, changed by a reload. */
export class SpecMembership implements MembershipSource {
  readonly name = 'spec';

  listeners(spec: Spec): Listener[] {
    return spec.listeners;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}
}
