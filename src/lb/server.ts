// What the proxy knows of one member: the connections it carries to it, their counters, and passive
// health's ejections (outlier.ts). Who the member is and whether it is in rotation are the Member's
// (src/membership/); this object lives as long as its Member does (proxy.ts keeps one per Member).
import type { MemberCounters } from '../dataplane/types.js';
import type { AdminState, ServerState } from '../health/types.js';
import type { Member } from '../membership/member.js';

/** Something the proxy can close: one downstream/upstream pair. */
export interface Closable {
  destroy(reason: string): void;
  /**
   * Its server is taken out (marked down, drained past its delay): a connection the server has not
   * answered yet moves to another server (the client has seen nothing), any other closes.
   */
  evict(reason: string): void;
}

export class Server {
  readonly member: Member;
  activeConnections = 0;
  totalConnections = 0;
  connectFailures = 0;
  redispatches = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Passive health (outlier.ts): connections this server took and never answered in time. */
  firstByteTimeouts = 0;
  /** Epoch ms until which new connections avoid this server (0: not ejected); see outlier.ts. */
  ejectedUntil = 0;
  /** Ejections in a row without an answer in between: each doubles the next ejection. */
  ejections = 0;
  readonly connections = new Set<Closable>();

  constructor(member: Member) {
    this.member = member;
  }

  get key(): string { return this.member.key; }
  get name(): string { return this.member.name; }
  get address(): string { return this.member.address; }
  get port(): number { return this.member.port; }
  get weight(): number { return this.member.weight; }
  get state(): ServerState { return this.member.state; }
  get adminState(): AdminState { return this.member.adminState; }
  get removed(): boolean { return this.member.removed; }

  /** A connect to this server failed: counted here, and told to the member's checker like a failed check. */
  observeFailure(reason: string, latencyMs: number): void {
    this.connectFailures++;
    this.member.observeFailure(reason, latencyMs);
  }

  /** Closes this server's proxied connections now (the proxy data plane's closeFlows). */
  closeConnections(reason: string): number {
    const count = this.connections.size;
    for (const connection of [...this.connections]) connection.evict(reason);
    return count;
  }

  counters(): MemberCounters {
    return {
      activeConnections: this.activeConnections,
      totalConnections: this.totalConnections,
      connectFailures: this.connectFailures,
      redispatches: this.redispatches,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      firstByteTimeouts: this.firstByteTimeouts,
      ...(this.ejectedUntil > Date.now() ? { ejectedUntil: this.ejectedUntil } : {}),
    };
  }
}
