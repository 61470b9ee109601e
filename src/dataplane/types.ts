// The seam between the runtime (which decides) and whatever carries the packets (which forwards). The
// runtime hands a data plane the listeners and, per server, its address, port, weight and eligibility
// (health and admin state, read from the Server objects of the registry); the data plane carries flows
// and writes its counters back into those Servers. Two implementations: the proxy (serve carries every
// connection) and the kernel (nftables NAT + conntrack).
import type { ListenerCounters } from '../lb/backend.js';
import type { Server } from '../lb/server.js';
import type { BalancerMode, Listener, Spec } from '../spec/types.js';

export interface DataPlaneListener {
  readonly listener: Listener;
  readonly servers: readonly Server[];
}

export interface DataPlane {
  readonly mode: BalancerMode;
  /** For the start line: how flows are carried ("proxy, handles engine", "kernel, nftables table inet cluster_endpoint"). */
  readonly description: string;
  /**
   * Brings the data plane to `listeners` of `spec`. All or nothing: when it cannot (a port will not
   * bind, nft refuses the table), it throws a UserError and the previous state keeps serving.
   */
  apply(spec: Spec, listeners: readonly DataPlaneListener[]): Promise<void>;
  /** A server's eligibility or weight changed (health, admin state): new flows follow from now on. */
  membershipChanged(): void;
  /** Closes a server's established flows now; resolves how many there were. */
  closeFlows(server: Server, reason: string): Promise<number>;
  /** Established flows of a server, as last known (for retiring removed servers). */
  flowsOf(server: Server): number;
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
