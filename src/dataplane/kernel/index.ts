// The kernel data plane: nftables NAT forwards, conntrack keeps each flow on its server, and serve
// only decides who gets new flows. Every change of membership re-renders the table (ruleset.ts) and
// applies it in one transaction. The table outlives serve: after a crash (or a restart for an
// upgrade) established flows keep flowing and new ones are still balanced over the last membership;
// a restarted serve adopts the table and replaces it once its own checks have a verdict. Each endpoint (cluster)
// has a table of its own and acts only on its own servers' flows, so several serves share a host (neighbours.ts).
//
// Passive health: the table drops a server's reset to a flow it never answered (the kernel then forgets the
// flow, so the client's SYN retransmission is balanced again) and conntrack's destroy event of that flow counts
// as a failed check, as a refused connect does in proxy mode; a flow left unanswered past the check timeout
// counts too. A server marked down takes its unanswered flows with it, so their retransmissions move.
import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import { isLocalAddress } from '../../local-addresses.js';
import { UserError } from '../../errors.js';
import type { HostLock } from '../../host-lock.js';
import type { ListenerCounters } from '../../lb/backend.js';
import type { Logger } from '../../log.js';
import type { Member } from '../../membership/member.js';
import { inRotation } from '../../membership/rotation.js';
import type { Spec } from '../../spec/types.js';
import type { DataPlane, DataPlaneListener, MemberCounters } from '../types.js';
import { formatDuration } from '../../spec/duration.js';
import { run, SYSTEM_ENGINE, type KernelEngine, type TableState } from './engines.js';
import { lockTable, neighboursOf, serverIdsIn, tablesOnHost } from './neighbours.js';
import { counterOf, FAMILY, listenerChain, markOf, serverChain, serverIds, tableName, type KernelListener, type KernelPlan, type KernelServer } from './ruleset.js';
import { BoundedFrequencyRunner } from './runner.js';

/**
 * How often counters and flows are read when nobody asks (flowsOf keeps retiring servers honest, and a read
 * finds the SYNs nobody answers): every check timeout, within these bounds.
 */
const POLL_MS = { min: 1000, max: 5000 };
/** A snapshot older than this asks for fresh counters (they arrive for the next one). */
const FRESH_MS = 1000;
/**
 * A read lists our open flows (ruleset.ts MARK_CLOSING keeps the closed ones out), so its cost grows with
 * them, on the CPU that forwards. Reads are spaced so they take at most 1/POLL_SHARE of the time when
 * nobody asks and 2/POLL_SHARE when snapshots do.
 */
const POLL_SHARE = 20;
/** Table syncs: at most one per SYNC_MIN_MS; a failed one is retried from RETRY.firstMs, doubling, up to RETRY.maxMs. */
const SYNC_MIN_MS = 20;
const RETRY = { firstMs: 250, maxMs: 30_000 };

const NO_COUNTERS: MemberCounters = { activeConnections: 0, totalConnections: 0, connectFailures: 0, redispatches: 0, bytesIn: 0, bytesOut: 0, firstByteTimeouts: 0 };

export interface KernelOptions {
  /** Addresses this host may not have yet but will answer on (the VIP, a BGP-announced endpoint). */
  floating?: readonly string[];
}

/** Whose table: the spec's cluster names it (tableName), and the spec file tells a serve refused for it who holds it. */
export interface KernelOwner {
  cluster: string;
  specPath: string;
}

export class KernelDataPlane implements DataPlane {
  readonly mode = 'kernel' as const;
  readonly description: string;
  readonly #logger: Logger;
  readonly #engine: KernelEngine;
  readonly #owner: KernelOwner;
  /** This endpoint's table (tableName of the cluster at start; a reload keeps it). */
  readonly #table: string;
  /** Held from the first apply until the table is removed or handed over: no other serve takes it meanwhile. */
  #lock: HostLock | undefined;
  /** Tables of ours no serve runs that catch our listeners (a predecessor): deleted by the next transaction. */
  #replacing: Array<{ table: string; marks: number[] }> = [];
  /** Syncs the table: coalesced, bounded in frequency, retried with back-off (kube-proxy's runner). */
  readonly #runner: BoundedFrequencyRunner;
  #spec: Spec | undefined;
  #listeners: readonly DataPlaneListener[] = [];
  /** Members no longer in any listener whose flows still count (drained past a reload). */
  readonly #retiring = new Set<Member>();
  #ids = new Map<string, string>();
  /** Members by the mark of their flows (markOf(id)): who a conntrack event is about. */
  #byMark = new Map<number, Member>();
  /** The members in rotation in the table last applied, and its membership per listener chain (to compare with the table read back). */
  #members = new Set<Member>();
  #applied: Map<string, string[]> | undefined;
  /** Unanswered flows seen by the last read: when first seen, and whether already counted as a failure. */
  #unanswered = new Map<string, { member: Member; since: number; counted: boolean }>();
  #refusals: { stop(): void } | undefined;
  /** Counts starts and ends of syncs (a read taken across one may show either table); true while one runs. */
  #syncs = 0;
  #syncing = false;
  #syncQueue: Promise<void> = Promise.resolve();
  /** Counters of listeners by name, rebuilt from the table at each poll. */
  #counters = new Map<string, ListenerCounters>();
  /** Counters of members by key, from the table at each poll (kept when a read has none), and passive health's connect failures. */
  readonly #memberCounters = new Map<string, MemberCounters>();

  #flows = new Map<number, number>();
  #polledAt = 0;
  /** How long the last read took, ms. */
  #pollCostMs = 0;
  #polling: Promise<void> | undefined;
  #pollTimer: NodeJS.Timeout | undefined;
  /** Until then, an adopted table is left as it is (our checks have no verdict yet). */
  #adoptedUntil = 0;
  #adoptTimer: NodeJS.Timeout | undefined;
  #accepting = true;
  #closed = false;
  /** This process has applied the table at least once (an adopted table it never changed is not its to delete). */
  #owned = false;

  constructor(logger: Logger, owner: KernelOwner, engine: KernelEngine = SYSTEM_ENGINE) {
    this.#logger = logger;
    this.#engine = engine;
    this.#owner = owner;
    this.#table = tableName(owner.cluster);
    this.description = `kernel, nftables table ${FAMILY} ${this.#table}`;
    this.#runner = new BoundedFrequencyRunner(() => this.#sync(), {
      minIntervalMs: SYNC_MIN_MS,
      retry: RETRY,
      onError: (error, retryInMs) => this.#logger.error(
        { event: 'kernel-apply', error: error.message, retryInMs, failures: this.#runner.failures },
        `the kernel table was not updated: ${error.message}; the previous one stays in place, retrying in ${formatDuration(retryInMs)}`,
      ),
    });
  }

  /** Checks what kernel mode needs before anything is changed; every failure is a UserError, exit 2. */
  static async preflight(spec: Spec, options: KernelOptions = {}): Promise<void> {
    for (const [program, pkg] of [['nft', 'nftables'], ['conntrack', 'conntrack']] as const) {
      const version = await run(program, ['--version']);
      if (version.code !== 0) throw new UserError('KERNEL', `\`${program} --version\` failed: ${version.stderr.trim()}`, { hint: `reinstall ${pkg}`, exitCode: 2 });
    }
    const probe = await run('nft', ['list', 'tables']);
    if (probe.code !== 0) {
      throw new UserError('KERNEL', /not permitted|denied/i.test(probe.stderr) ? 'balancer.mode: kernel needs root or CAP_NET_ADMIN (nft cannot read the ruleset)' : `nft cannot read the ruleset: ${probe.stderr.trim()}`, {
        hint: 'run serve as root, or with CAP_NET_ADMIN (the unit `render builtin` writes has it), or use balancer.mode: proxy',
        exitCode: 2,
      });
    }
    const families = new Set(spec.listeners.flatMap((l) => l.servers.map((s) => (isIP(s.address) === 6 ? 6 : 4))));
    for (const family of families) {
      const sysctl = family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding';
      const value = (await readFile(`/proc/sys/${sysctl.replace(/\./g, '/')}`, 'utf8').catch(() => '0')).trim();
      if (value !== '1') {
        throw new UserError('KERNEL', `IP forwarding is off (${sysctl} = ${value}): the kernel will not forward flows to the IPv${family} servers`, {
          hint: `sysctl -w ${sysctl}=1, and keep it in /etc/sysctl.d/ (e.g. echo ${sysctl}=1 > /etc/sysctl.d/90-cluster-endpoint.conf)`,
          exitCode: 2,
        });
      }
    }
    const bind = spec.balancer.bind;
    if (bind !== '0.0.0.0' && bind !== '::' && !options.floating?.includes(bind) && !isLocalAddress(bind)) {
      throw new UserError('KERNEL', `balancer.bind ${bind} is not an address of this host`, {
        hint: 'use an address of this host, the VIP (vip.address), or 0.0.0.0 / :: for every local address',
        exitCode: 2,
      });
    }
  }

  /**
   * Removes the table a previous serve of this spec left behind (and a predecessor that catches its listeners),
   * with their flows; refused while a serve runs it (UserError KERNEL, exit 2). Other clusters' tables and flows
   * are not touched.
   */
  static async cleanup(spec: Spec, specPath: string, engine: KernelEngine = SYSTEM_ENGINE): Promise<{ table: string; removed: string[]; flows: number }> {
    const table = tableName(spec.cluster.name);
    const lock = await lockTable(spec.cluster.name, specPath);
    try {
      const { replaced } = await neighboursOf(engine, table, spec);
      const own = await engine.readTable(table);
      const removed: string[] = [];
      let flows = 0;
      for (const { table: name, state } of [...(own ? [{ table, state: own }] : []), ...replaced]) {
        if (await engine.deleteTable(name)) removed.push(name);
        flows += await deleteFlowsOf(engine, serverIdsIn(state).map(markOf));
      }
      return { table, removed, flows };
    } finally {
      await lock.release();
    }
  }

  /** The tables of cluster-endpoint on this host, and the serve running each (for a cleanup without a spec). */
  static tables(engine: KernelEngine = SYSTEM_ENGINE): ReturnType<typeof tablesOnHost> {
    return tablesOnHost(engine);
  }

  async apply(spec: Spec, listeners: readonly DataPlaneListener[]): Promise<void> {
    const first = this.#spec === undefined;
    if (first) this.#lock = await lockTable(this.#owner.cluster, this.#owner.specPath);
    // Another serve's table that catches the same address and port refuses this spec (a reload keeps the old one).
    const neighbours = await neighboursOf(this.#engine, this.#table, spec).catch(async (error: unknown) => {
      if (first) await this.#unlock();
      throw error;
    });
    const previous = { spec: this.#spec, listeners: this.#listeners, replacing: this.#replacing };
    this.#replacing = neighbours.replaced.map(({ table, state }) => ({ table, marks: serverIdsIn(state).map(markOf) }));
    this.#spec = spec;
    this.#listeners = listeners;
    const current = new Set(listeners.flatMap((l) => l.members));
    for (const member of previous.listeners.flatMap((l) => l.members)) if (!current.has(member) && (this.#flows.get(this.#markOf(member)) ?? 0) > 0) this.#retiring.add(member);
    for (const member of this.#retiring) if (current.has(member)) this.#retiring.delete(member);
    // One flow mark per key: a member removed and added again is one member (the registry revives it).
    const previousIds = this.#ids;
    this.#ids = serverIds([...current, ...this.#retiring].map((m) => m.key), neighbours.taken);
    this.#byMark = new Map([...current, ...this.#retiring].map((m) => [markOf(this.#ids.get(m.key)!), m]));
    const keys = new Set(this.#ids.keys());
    for (const key of this.#memberCounters.keys()) if (!keys.has(key)) this.#memberCounters.delete(key);
    if (first) {
      // Our own table (a restart), else a predecessor's: it serves until our checks have a verdict.
      const own = await this.#engine.readTable(this.#table);
      const adopted = own ? { table: this.#table, state: own } : neighbours.replaced[0];
      if (adopted) {
        this.#adopt(spec, adopted.table, adopted.state);
        this.#start();
        return;
      }
    }
    try {
      // A reload is applied now, after any sync in flight: it throws when nft refuses, and the old spec stays.
      await this.#sync();
    } catch (error) {
      this.#spec = previous.spec;
      this.#listeners = previous.listeners;
      this.#replacing = previous.replacing;
      this.#ids = previousIds;
      this.#byMark = new Map([...previous.listeners.flatMap((l) => l.members), ...this.#retiring].filter((m) => previousIds.has(m.key)).map((m) => [markOf(previousIds.get(m.key)!), m]));
      throw error;
    }
    if (first) this.#start();
  }

  membershipChanged(): void {
    if (this.#closed) return;
    if (Date.now() < this.#adoptedUntil) {
      if (this.#allDecided()) this.#endAdoption();
      return;
    }
    this.#runner.run();
  }

  async closeFlows(member: Member, reason: string): Promise<number> {
    // Wait for the table that takes the member out of rotation first, so no new flow slips in behind.
    await this.#runner.settled();
    const closed = await this.#engine.deleteFlows(this.#markOf(member));
    this.#flows.set(this.#markOf(member), 0);
    if (closed > 0) this.#logger.debug({ event: 'flows-closed', server: member.name, listener: member.listener, closed, reason }, `${member.name} ${member.listener}: removed ${closed} flow(s) from conntrack (${reason})`);
    return closed;
  }

  flowsOf(member: Member): number {
    return this.#flows.get(this.#markOf(member)) ?? 0;
  }

  memberCounters(member: Member): MemberCounters {
    return { ...(this.#memberCounters.get(member.key) ?? NO_COUNTERS) };
  }

  counters(listener: string): ListenerCounters | undefined {
    if (!this.#listeners.some((l) => l.listener.name === listener)) return undefined;
    if (Date.now() - this.#polledAt > this.#pollGap(FRESH_MS, 2 / POLL_SHARE)) void this.#poll();
    return this.#counters.get(listener) ?? { activeConnections: 0, totalConnections: 0, failedConnections: 0, localErrors: 0, bytesIn: 0, bytesOut: 0 };
  }

  async activeFlows(): Promise<number> {
    await this.#poll(true);
    let total = 0;
    for (const count of this.#flows.values()) total += count;
    return total;
  }

  async stopAccepting(): Promise<void> {
    this.#accepting = false;
    this.#adoptedUntil = 0;
    await this.#runner.settled();
    await this.#sync();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopTimers();
    await this.#runner.settled();
    // Our table and its flows (by our servers' marks: another serve's on this host stay), and a predecessor we took over.
    const marks = [...new Set([...this.#listeners.flatMap((l) => l.members), ...this.#retiring].map((m) => this.#markOf(m)).filter((m) => m >= 0))];
    const removed = await this.#engine.deleteTable(this.#table);
    let flows = await deleteFlowsOf(this.#engine, marks);
    for (const predecessor of this.#replacing) {
      if (await this.#engine.deleteTable(predecessor.table)) this.#logger.info({ event: 'kernel-table', removed: predecessor.table }, `removed the nftables table ${FAMILY} ${predecessor.table} this serve took over`);
      flows += await deleteFlowsOf(this.#engine, predecessor.marks);
    }
    await this.#unlock();
    this.#logger.info({ event: 'kernel-table', removed, flows }, `${removed ? `removed the nftables table ${FAMILY} ${this.#table}` : `no nftables table ${FAMILY} ${this.#table} to remove`}${flows > 0 ? ` and ${flows} flow(s) left in conntrack` : ''}`);
  }

  async destroy(): Promise<void> {
    // A serve refused its table (another serve runs it) touches nothing.
    if (!this.#lock) return;
    // A serve that fails to start after adopting a table leaves it serving, as the crash before it did.
    if (!this.#owned) return this.handover();
    await this.close();
  }

  /** Leaves the table and its flows in place for the next serve (restart, upgrade); stops reading it. */
  async handover(): Promise<void> {
    this.#closed = true;
    this.#stopTimers();
    await this.#runner.settled();
    await this.#unlock();
    this.#logger.info({ event: 'kernel-table', handover: true }, `left the nftables table ${FAMILY} ${this.#table} in place: established flows go on, new ones are balanced over the current membership until the next serve takes over`);
  }

  async #unlock(): Promise<void> {
    await this.#lock?.release();
    this.#lock = undefined;
  }

  #markOf(member: Member): number {
    const id = this.#ids.get(member.key);
    return id === undefined ? -1 : markOf(id);
  }

  /** The plan for the table: the members in rotation get new flows. */
  #plan(existing: TableState | undefined): KernelPlan {
    const spec = this.#spec!;
    const toKernel = (member: Member): KernelServer => ({ id: this.#ids.get(member.key)!, listener: listenerChain(member.listener), address: member.address, port: member.port, weight: member.weight });
    // Stateful failover: every peer hashes a flow to the same server, and picks up flows it never saw.
    const sync = spec.vip?.sync;
    const consistent = sync !== undefined && sync.consistentHash && spec.vip!.peers.length > 1;
    const listeners: KernelListener[] = this.#listeners.map(({ listener, members: all }) => {
      const members = inRotation(all, spec.balancer.whenAllDown);
      const balance = listener.balance === 'source' ? 'source' : consistent ? 'flow' : 'roundrobin';
      return { name: listener.name, port: listener.port, balance, members: this.#accepting ? members.map(toKernel) : [] };
    });
    const servers = [...new Set([...this.#listeners.flatMap((l) => l.members), ...this.#retiring])].map(toKernel);
    return {
      table: this.#table,
      ...(this.#replacing.length > 0 ? { replaces: this.#replacing.map((p) => p.table) } : {}),
      bind: spec.balancer.bind,
      preserveClientIp: spec.balancer.preserveClientIp,
      // The servers answer the VIP, which moves with the flows, instead of one host's own address.
      ...(sync && (sync.flows || sync.consistentHash) && spec.vip!.peers.length > 1 ? { snatAddress: spec.vip!.address } : {}),
      ...(consistent ? { pickUp: true } : {}),
      listeners,
      servers,
      ...(existing ? { existing: { chains: existing.chains, counters: [...existing.counters.keys()] } } : {}),
    };
  }

  /** One sync at a time, whoever asks (the runner, a reload, a stop): a later plan is never overtaken by an earlier one. */
  #sync(): Promise<void> {
    const run = this.#syncQueue.then(() => this.#syncNow());
    this.#syncQueue = run.catch(() => undefined);
    return run;
  }

  /** Brings the table to the plan in one transaction; then moves the unanswered flows of servers that just went down. */
  async #syncNow(): Promise<void> {
    if (this.#closed || !this.#spec) return;
    this.#syncs++;
    this.#syncing = true;
    let plan: KernelPlan;
    try {
      plan = this.#plan(await this.#engine.readTable(this.#table));
      await this.#engine.apply(plan);
      this.#owned = true;
      // A predecessor went in the same transaction; its flows go on (their translation is in conntrack) and end by themselves.
      for (const predecessor of this.#replacing) this.#logger.info({ event: 'kernel-table', replaced: predecessor.table }, `replaced the nftables table ${FAMILY} ${predecessor.table}, left by a serve no longer running, with ${FAMILY} ${this.#table}`);
      this.#replacing = [];
      this.#applied = membershipOf(plan);
    } finally {
      this.#syncing = false;
      this.#syncs++;
    }
    const ids = new Set(plan.listeners.flatMap((l) => l.members.map((m) => m.id)));
    const members = new Set(this.#listeners.flatMap((l) => l.members).filter((m) => ids.has(this.#ids.get(m.key)!)));
    const gone = [...this.#members].filter((m) => !members.has(m) && m.state === 'down');
    this.#members = members;
    // A member marked down never answers the SYNs already sent to it (a host gone silent, a process killed
    // while the reset was in flight): forgetting those flows balances the clients' retransmissions again.
    for (const member of gone) {
      const moved = await this.#engine.deleteFlows(this.#markOf(member), { unansweredOnly: true }).catch((error: Error) => {
        this.#logger.warn({ event: 'kernel-flows', server: member.name, error: error.message }, `could not remove the unanswered flows of ${member.name}: ${error.message}`);
        return 0;
      });
      if (moved > 0) this.#logger.info({ event: 'flows-moved', listener: member.listener, server: member.name, flows: moved }, `${member.name} ${member.listener}: ${moved} connection attempt(s) it never answered will be balanced again at the client's next SYN`);
    }
  }

  /**
   * Compares the table read back with the one last applied: a table changed or removed behind serve's back (a
   * firewall reload that flushed the ruleset, a hand edit) is applied again, through the runner.
   */
  #reconcile(table: TableState | undefined, syncsBefore: number): void {
    if (this.#closed || !this.#owned || this.#applied === undefined || Date.now() < this.#adoptedUntil) return;
    // A sync during the read: what was read may be either table.
    if (this.#syncs !== syncsBefore || this.#syncing) return;
    if (table && sameMembership(this.#applied, table.members)) return;
    this.#logger.warn({ event: 'kernel-drift', table: table ? 'changed' : 'missing' }, `the nftables table ${FAMILY} ${this.#table} was ${table ? 'changed' : 'removed'} outside serve; applying it again`);
    this.#runner.run();
  }

  /** Starts what runs beside the table: counters and flows read back, and the refusal watcher. */
  #start(): void {
    this.#startPolling();
    this.#refusals = this.#engine.watchRefusals({
      refused: (mark) => this.#refused(mark),
      failed: (message) => this.#logger.warn({ event: 'kernel-events', error: message }, `passive health: ${message}`),
    });
  }

  /** A member reset a connection it never answered: the client did not see it (the table dropped it); the member did fail. */
  #refused(mark: number): void {
    const member = this.#byMark.get(mark);
    if (!member || this.#closed) return;
    this.#logger.debug({ event: 'flow-refused', listener: member.listener, server: member.name }, `${member.name} ${member.listener}: reset a connection it never answered; the client's next SYN is balanced again`);
    this.#failed(member, 'kernel connect refused (a reset to the SYN)', 0);
  }

  /** Passive health: a connect to the member failed; counted here, and told to its checker like a failed check (as the proxy does). */
  #failed(member: Member, reason: string, latencyMs: number): void {
    const counters = this.#memberCounters.get(member.key) ?? { ...NO_COUNTERS };
    this.#memberCounters.set(member.key, { ...counters, connectFailures: counters.connectFailures + 1 });
    member.observeFailure(reason, latencyMs);
  }

  #adopt(spec: Spec, name: string, table: TableState): void {
    // Our checks start with no verdict; until they have one, the table from before decides. A server's
    // verdict takes at most healthyThreshold checks at the fast interval, each up to the timeout.
    const settleMs = Math.max(...spec.listeners.map((l) => l.healthCheck.healthyThreshold * (l.healthCheck.fastIntervalMs + l.healthCheck.timeoutMs)), 1000);
    this.#adoptedUntil = Date.now() + settleMs;
    const members = [...table.members.values()].reduce((sum, m) => sum + m.length, 0);
    this.#logger.info({ event: 'kernel-table', adopted: true, members, settleMs }, `adopted the nftables table ${FAMILY} ${name} left by a previous serve (${members} server(s) in rotation); it is replaced${name === this.#table ? '' : ` by ${FAMILY} ${this.#table}`} once the health checks have a verdict (at most ${Math.round(settleMs / 1000)}s)`);
    this.#adoptTimer = setTimeout(() => this.#endAdoption(), settleMs);
    this.#adoptTimer.unref();
  }

  #allDecided(): boolean {
    return this.#listeners.every((l) => l.members.every((m) => m.state !== 'checking' || m.adminState === 'maint'));
  }

  #endAdoption(): void {
    if (this.#adoptedUntil === 0) return;
    this.#adoptedUntil = 0;
    clearTimeout(this.#adoptTimer);
    this.membershipChanged();
  }

  #startPolling(): void {
    void this.#poll();
  }

  /** After every read (periodic or asked for): the next one, as #nextPollMs says. */
  #schedulePoll(): void {
    clearTimeout(this.#pollTimer);
    if (this.#closed) return;
    this.#pollTimer = setTimeout(() => void this.#poll(), this.#nextPollMs());
    this.#pollTimer.unref();
  }

  /**
   * The next read: every check timeout (1-5 s), or sooner when a flow is waiting for an answer, to tell as soon as its check
   * timeout is over whether it got one; reads stay under 2/POLL_SHARE of the time.
   */
  #nextPollMs(): number {
    const timeout = Math.min(...(this.#spec?.listeners.map((l) => l.healthCheck.timeoutMs) ?? []), POLL_MS.max);
    const idle = this.#pollGap(Math.max(POLL_MS.min, timeout), 1 / POLL_SHARE);
    let due = Number.POSITIVE_INFINITY;
    for (const flow of this.#unanswered.values()) if (!flow.counted) due = Math.min(due, flow.since + this.#timeoutOf(flow.member) - Date.now());
    if (due === Number.POSITIVE_INFINITY) return idle;
    return Math.min(idle, Math.max(due, this.#pollCostMs / (2 / POLL_SHARE), 10));
  }

  #timeoutOf(member: Member): number {
    return this.#spec?.listeners.find((l) => l.name === member.listener)?.healthCheck.timeoutMs ?? 5000;
  }

  /** Counts a failure for each flow that stayed unanswered past its member's check timeout (once per flow). */
  #checkUnanswered(flows: ReadonlyArray<{ mark: number; key: string }>, now: number): void {
    const seen = new Map<string, { member: Member; since: number; counted: boolean }>();
    for (const flow of flows) {
      const member = this.#byMark.get(flow.mark);
      if (!member) continue;
      const known = this.#unanswered.get(flow.key);
      const entry = known?.member === member ? known : { member, since: now, counted: false };
      seen.set(flow.key, entry);
      const waited = now - entry.since;
      const timeoutMs = this.#timeoutOf(member);
      if (entry.counted || waited < timeoutMs || member.state === 'down') continue;
      entry.counted = true;
      this.#logger.debug({ event: 'flow-unanswered', listener: member.listener, server: member.name, waitedMs: waited }, `${member.name} ${member.listener}: a SYN has had no answer for ${formatDuration(waited)}`);
      this.#failed(member, `kernel no answer to the SYN within ${formatDuration(timeoutMs)}`, waited);
    }
    this.#unanswered = seen;
  }

  /** The time between reads: at least minimumMs, and long enough that reading takes at most `share` of it. */
  #pollGap(minimumMs: number, share: number): number {
    return Math.max(minimumMs, this.#pollCostMs / share);
  }

  #stopTimers(): void {
    clearTimeout(this.#pollTimer);
    clearTimeout(this.#adoptTimer);
    this.#adoptedUntil = 0;
    this.#runner.stop();
    this.#refusals?.stop();
    this.#refusals = undefined;
  }

  /** Reads counters (nft) and flows (conntrack) into the members' and listeners' counters; passive health reads the unanswered flows. */
  #poll(wait = false): Promise<void> {
    if (this.#polling) return wait ? this.#polling : Promise.resolve();
    this.#polling = (async () => {
      const started = performance.now();
      const syncsBefore = this.#syncs;
      try {
        const [table, read] = await Promise.all([this.#engine.readTable(this.#table), this.#engine.readFlows()]);
        const flows = read.open;
        this.#flows = flows;
        this.#polledAt = Date.now();
        this.#pollCostMs = performance.now() - started;
        if (!this.#closed) this.#checkUnanswered(read.unanswered, this.#polledAt);
        this.#reconcile(table, syncsBefore);
        if (!table) return;
        // A listener's connections and bytes come from its own counters (they outlast its servers and serve);
        // its open flows are its servers'.
        const counters = new Map<string, ListenerCounters>();
        const value = (name: string, field: 'packets' | 'bytes') => table.counters.get(name)?.[field] ?? 0;
        for (const { listener, members } of this.#listeners) {
          const chain = listenerChain(listener.name);
          const total: ListenerCounters = {
            activeConnections: 0, totalConnections: value(counterOf(chain, 'new'), 'packets'), failedConnections: value(counterOf(chain, 'rejected'), 'packets'), localErrors: 0,
            bytesIn: value(counterOf(chain, 'in'), 'bytes'), bytesOut: value(counterOf(chain, 'out'), 'bytes'),
          };
          for (const member of [...members, ...[...this.#retiring].filter((m) => m.listener === listener.name)]) {
            const id = this.#ids.get(member.key);
            if (id === undefined) continue;
            const last = this.#memberCounters.get(member.key) ?? NO_COUNTERS;
            const chain = serverChain(id);
            const read: MemberCounters = {
              ...last,
              activeConnections: flows.get(markOf(id)) ?? 0,
              totalConnections: table.counters.get(counterOf(chain, 'new'))?.packets ?? last.totalConnections,
              bytesIn: table.counters.get(counterOf(chain, 'in'))?.bytes ?? last.bytesIn,
              bytesOut: table.counters.get(counterOf(chain, 'out'))?.bytes ?? last.bytesOut,
            };
            this.#memberCounters.set(member.key, read);
            total.activeConnections += read.activeConnections;
          }
          counters.set(listener.name, total);
        }
        this.#counters = counters;
        for (const member of this.#retiring) if ((flows.get(this.#markOf(member)) ?? 0) === 0) this.#retiring.delete(member);
      } catch (error) {
        this.#logger.warn({ event: 'kernel-counters', error: (error as Error).message }, `reading counters from the kernel failed: ${(error as Error).message}`);
      } finally {
        this.#polling = undefined;
        this.#schedulePoll();
      }
    })();
    return this.#polling;
  }
}

/** Deletes the flows of these server marks (all at once); how many went. */
async function deleteFlowsOf(engine: KernelEngine, marks: readonly number[]): Promise<number> {
  const counts = await Promise.all(marks.map((mark) => engine.deleteFlows(mark)));
  return counts.reduce((sum, n) => sum + n, 0);
}

/** Per listener chain, the server chains its map jumps to: what a table read back (TableState.members) carries. */
function membershipOf(plan: KernelPlan): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const listener of plan.listeners) {
    const chains = [...new Set(listener.members.filter((m) => m.weight > 0).map((m) => serverChain(m.id)))].sort();
    if (chains.length > 0) out.set(listenerChain(listener.name), chains);
  }
  return out;
}

function sameMembership(a: ReadonlyMap<string, readonly string[]>, b: ReadonlyMap<string, readonly string[]>): boolean {
  if (a.size !== b.size) return false;
  for (const [chain, members] of a) {
    const other = [...(b.get(chain) ?? [])].sort();
    if (other.length !== members.length || other.some((m, i) => m !== members[i])) return false;
  }
  return true;
}
