// Members that survive reloads: one Member per listener + address + port, with its health state and admin
// state. A reload plans the members of the new spec (reusing the ones that stay), and the commit retires
// the ones that are gone; a removed member is kept until its flows are over. Every change that can change
// who is in rotation — a health state, an admin state, a commit — is told to every `onChange` listener
// (the data plane, the announcers), so nobody polls.
import { UserError } from '../errors.js';
import type { AdminState, StateChange } from '../health/types.js';
import type { ExhaustionSink } from '../local-errors.js';
import type { Logger } from '../log.js';
import type { Listener, Spec } from '../spec/types.js';
import { Member, memberKey } from './member.js';

/** The members a spec would have, before anything changes. */
export interface RegistryPlan {
  readonly spec: Spec;
  /** Members per listener, in the spec's order. */
  readonly listeners: ReadonlyArray<{ listener: Listener; members: readonly Member[] }>;
  readonly created: readonly Member[];
  /** Members a reload removed and this one brings back while they still drain: the same object again. */
  readonly revived: readonly Member[];
  readonly members: ReadonlyMap<string, Member>;
}

/** What the registry tells its owner. */
export interface RegistryEvents {
  /** A member's health state changed (after the change listeners heard of it). */
  onStateChange(member: Member, change: StateChange): void;
  /** A drain or a removal reached its deadline: close the member's established flows now. */
  onDeadline(member: Member): void;
  /** Where a check that failed for want of local resources is reported instead of counted. */
  exhaustion?: ExhaustionSink;
}

/** Why the membership changed, for listeners that care (most only re-read what they need). */
export type MembershipChange =
  | { readonly kind: 'state'; readonly member: Member; readonly change: StateChange }
  | { readonly kind: 'admin'; readonly members: readonly Member[] }
  | { readonly kind: 'commit' };

export type ChangeListener = (change: MembershipChange) => void;

export class MemberRegistry {
  readonly #events: RegistryEvents;
  readonly #logger: Logger;
  readonly #listeners = new Set<ChangeListener>();
  #members = new Map<string, Member>();
  /** The current members of each listener, in the spec's order. */
  #byListener = new Map<string, readonly Member[]>();
  /** Members a reload removed, kept while they still carry flows. */
  readonly #removed = new Set<Member>();
  /** Removed members listed until their drain deadline even without flows (discovery: a node that left is seen leaving). */
  readonly #listedUntil = new Map<Member, number>();

  constructor(events: RegistryEvents, logger: Logger) {
    this.#events = events;
    this.#logger = logger;
  }

  /**
   * Calls `listener` after every change that can change who is in rotation: a member's health state, an
   * admin state, a commit (members added, removed, reweighted). Returns the function that unsubscribes.
   */
  onChange(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The current members of a listener in the spec's order, then its removed members still draining. */
  membersOf(listener: string): Member[] {
    const removed = [...this.#removed].filter((m) => m.listener === listener);
    return [...(this.#byListener.get(listener) ?? []), ...removed];
  }

  /** The members for `spec`: existing ones by key, new ones created (not started). Changes nothing. */
  plan(spec: Spec): RegistryPlan {
    const members = new Map<string, Member>();
    const created: Member[] = [];
    const revived: Member[] = [];
    const draining = new Map([...this.#removed].map((m) => [m.key, m]));
    const listeners = spec.listeners.map((listener) => ({
      listener,
      members: listener.servers.map((target) => {
        const key = memberKey(listener.name, target);
        let member = this.#members.get(key);
        if (!member && draining.has(key)) {
          member = draining.get(key)!;
          revived.push(member);
        }
        if (!member) {
          member = new Member(listener.name, target, listener.healthCheck, {
            onStateChange: (m, change) => this.#stateChanged(m, change),
            exhaustion: this.#events.exhaustion,
          }, this.#logger);
          created.push(member);
        }
        members.set(key, member);
        return member;
      }),
    }));
    return { spec, listeners, created, revived, members };
  }

  /** Members (listener/name) the registry has and `spec` would not. */
  removal(spec: Spec): { removed: string[]; total: number } {
    const next = new Set(spec.listeners.flatMap((l) => l.servers.map((t) => memberKey(l.name, t))));
    const removed = [...this.#members.values()].filter((m) => !next.has(m.key)).map((m) => `${m.listener}/${m.name}`);
    return { removed, total: this.#members.size };
  }

  /**
   * Makes `plan` current: new weights and checks, members gone retired, new members started. With `listRemoved`
   * a member gone is listed (draining) until the deregistration delay is over even when it carries no flow.
   */
  commit(plan: RegistryPlan, flowsOf: (member: Member) => number, options: { listRemoved?: boolean } = {}): void {
    for (const { listener, members } of plan.listeners) {
      listener.servers.forEach((target, index) => {
        const member = members[index];
        member.weight = target.weight;
        if (!plan.created.includes(member)) member.setCheck(listener.healthCheck);
      });
    }
    for (const [key, member] of this.#members) {
      if (!plan.members.has(key)) this.#retire(member, plan.spec.deregistrationDelayMs, flowsOf(member), options.listRemoved ?? false);
    }
    this.#members = new Map(plan.members);
    this.#byListener = new Map(plan.listeners.map(({ listener, members }) => [listener.name, members]));
    for (const member of plan.revived) {
      // Back in the spec before its drain ended: it keeps its flows, counters and state.
      this.#removed.delete(member);
      this.#listedUntil.delete(member);
      member.removed = false;
      member.cancelDrain();
      member.start();
    }
    for (const member of plan.created) member.start();
    this.#tell({ kind: 'commit' });
  }

  /** Sets the admin state of every member named `target.server` (on one listener, or all). */
  setAdminState(target: { server: string; listener?: string }, state: AdminState, delayMs: number): Member[] {
    const matched: Member[] = [];
    for (const member of this.#members.values()) {
      if (member.name !== target.server || (target.listener !== undefined && member.listener !== target.listener)) continue;
      const previous = member.adminState;
      member.adminState = state;
      if (state === 'ready') member.cancelDrain();
      else member.drainFor(delayMs, () => this.#events.onDeadline(member));
      matched.push(member);
      if (previous !== state) {
        this.#logger.info(
          { event: 'admin-state', listener: member.listener, server: member.name, from: previous, to: state },
          `${member.name} ${member.listener} admin state ${previous} → ${state}${state === 'ready' ? '' : ` (established connections closed in ${delayMs / 1000}s)`}`,
        );
      }
    }
    if (matched.length === 0) {
      const where = target.listener ? ` on listener ${target.listener}` : '';
      throw new UserError('ADMIN_NOT_FOUND', `no server named ${target.server}${where}`, { hint: `known servers: ${[...new Set([...this.#members.values()].map((m) => m.name))].join(', ')}` });
    }
    this.#tell({ kind: 'admin', members: matched });
    return matched;
  }

  /** Forgets removed members whose flows are over (and, for those listed until their deadline, whose deadline passed). */
  prune(flowsOf: (member: Member) => number, now = Date.now()): void {
    for (const member of this.#removed) {
      if (flowsOf(member) > 0 || now < (this.#listedUntil.get(member) ?? 0)) continue;
      this.#removed.delete(member);
      this.#listedUntil.delete(member);
    }
  }

  /** Stops every check and timer (flows are the data plane's business). */
  stop(): void {
    for (const member of [...this.#members.values(), ...this.#removed]) member.stop();
  }

  #stateChanged(member: Member, change: StateChange): void {
    this.#tell({ kind: 'state', member, change });
    this.#events.onStateChange(member, change);
  }

  #tell(change: MembershipChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#logger.error({ event: 'membership-listener', error: (error as Error).message }, `a membership change listener failed: ${(error as Error).message}`);
      }
    }
  }

  /** A member gone from the membership: no new flows, its flows closed at the delay. */
  #retire(member: Member, delayMs: number, flows: number, listed: boolean): void {
    member.removed = true;
    member.stop();
    if (flows === 0 && !listed) return;
    this.#removed.add(member);
    if (listed) this.#listedUntil.set(member, Date.now() + delayMs);
    this.#logger.info({ event: 'server-removed', listener: member.listener, server: member.name, connections: flows }, `${member.name} ${member.listener} removed${listed ? '' : ' from the spec'}: ${flows} connection(s) drain for up to ${delayMs / 1000}s`);
    member.drainFor(delayMs, () => this.#events.onDeadline(member));
  }
}
