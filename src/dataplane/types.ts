// The seam between the runtime (which decides) and whatever carries the packets (which forwards). The
// runtime hands a data plane the listeners and their members (src/membership/: address, port, weight, and
// the two states that say who is in rotation); the data plane carries flows, keeps what it knows per member
// (the proxy its connections and ejections, the kernel its ids and flow counts) and reports its counters
// when asked. Two implementations: the proxy (serve carries every connection) and the kernel (nftables
// NAT + conntrack).
import type { ListenerCounters } from '../lb/backend.js';
import type { Member } from '../membership/member.js';
import type { BalancerMode, Listener, Spec } from '../spec/types.js';

export interface DataPlaneListener {
  readonly listener: Listener;
  readonly members: readonly Member[];
}

/** A member's flow counters as a data plane knows them (the snapshot adds them to the member's health). */
export interface MemberCounters {
  activeConnections: number;
  totalConnections: number;
  /** Connects to this member that failed (retried elsewhere when possible). */
  connectFailures: number;
  /** Connections moved to another member after this one failed (HAProxy redispatch). */
  redispatches: number;
  bytesIn: number;
  bytesOut: number;
  /** Connections this member took and did not answer within balancer.firstByteTimeout. */
  firstByteTimeouts: number;
  /** Set while passive health keeps new connections away from the member: epoch ms when that ends. */
  ejectedUntil?: number;
}

export interface DataPlane {
  readonly mode: BalancerMode;
  /** For the start line: how flows are carried ("proxy, handles engine", "kernel, nftables table inet cluster_endpoint_prod"). */
  readonly description: string;
  /**
   * Brings the data plane to `listeners` of `spec`. All or nothing: when it cannot (a port will not
   * bind, nft refuses the table), it throws a UserError and the previous state keeps serving.
   */
  apply(spec: Spec, listeners: readonly DataPlaneListener[]): Promise<void>;
  /** Who is in rotation or a weight may have changed (health, admin state, a commit): new flows follow from now on. */
  membershipChanged(): void;
  /** Closes a member's established flows now; resolves how many there were. */
  closeFlows(member: Member, reason: string): Promise<number>;
  /** Established flows of a member, as last known (for retiring removed members). */
  flowsOf(member: Member): number;
  /** A member's flow counters, as last known (zeros for a member it never carried). */
  memberCounters(member: Member): MemberCounters;
  /** Client-side counters of a listener that is current or still draining. */
  counters(listener: string): ListenerCounters | undefined;
  /** Flows established through every listener, current or draining. */
  activeFlows(): Promise<number>;
  /** Graceful stop, first step: no new flows; established ones go on. */
  stopAccepting(): Promise<void>;
  /** Graceful stop, last step (after the drain): ends what is left and removes what this data plane owns. */
  close(): Promise<void>;
  /** Immediate stop: ends every flow now. */
  destroy(): Promise<void>;
  /**
   * Exit for a restart (upgrade): leaves established and new flows running for the next serve, which
   * adopts them. Only a data plane that outlives the process has it (kernel).
   */
  handover?(): Promise<void>;
}
