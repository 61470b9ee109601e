// The running balancer. It decides; a data plane forwards. The parts, each in its own file:
//   spec-source.ts  reads, parses (off the event loop) and watches the spec file
//   membership/     the members, which keep health state and admin state across reloads (registry.ts),
//                   who is in rotation (rotation.ts), and where the members come from (source.ts)
//   dataplane/      what carries flows: the proxy (serve itself) or the kernel (nftables)
//   status.ts       assembles the one snapshot the admin surface formats
// This file wires them: it applies a spec (registry plan → data plane → registry commit), passes the
// registry's membership changes to the data plane and the announcers, reloads, and stops. If a new spec
// is invalid or cannot be applied, the old one keeps serving.
import { UserError } from '../errors.js';
import type { AdminState, StateChange } from '../health/types.js';
import { createLogger, type Logger } from '../log.js';
import type { EndpointHealth } from '../membership/health.js';
import type { Member } from '../membership/member.js';
import { MemberRegistry } from '../membership/registry.js';
import { KubernetesMembership } from '../membership/kubernetes/source.js';
import { SpecMembership, type MembershipSource } from '../membership/source.js';
import { joinHostPort } from '../spec/address.js';
import { checkPeerFlag } from '../spec/hosts.js';
import { mainListener } from '../spec/listener-role.js';
import { SpecInvalidError } from '../spec/load.js';
import { formatProblem } from '../spec/problem.js';
import type { Spec } from '../spec/types.js';
import { KernelDataPlane } from '../dataplane/kernel/index.js';
import { ProxyDataPlane } from '../dataplane/proxy.js';
import type { DataPlane } from '../dataplane/types.js';
import { startAdminServer, type AdminServer } from './admin/server.js';
import { descriptorsNeeded, ResourceMonitor } from './resources.js';
import type { ReloadRecord, StatusSnapshot, VipSnapshot } from './snapshot.js';
import { SpecSource, type SpecText } from './spec-source.js';
import { assembleSnapshot } from './status.js';

export interface DaemonOptions {
  specPath: string;
  logger?: Logger;
  /** Reload when the spec file changes; default spec.balancer.watch. */
  watch?: boolean;
  /** VIP peer name of this host (serve --peer). */
  peer?: string;
  /** Where the members come from; default the spec's own servers. */
  membership?: MembershipSource;
}

export interface Daemon {
  readonly adminUrl: string;
  snapshot(): StatusSnapshot;
  /**
   * Reads and applies the spec file. `signal` (SIGHUP, tests) applies any change; `watch` (the file
   * watcher) holds back a change that would remove most servers at once, until a signal confirms it, and
   * applies one that removes fewer only after the file kept that content for REMOVAL_CONFIRM_MS.
   */
  reload(trigger?: ReloadTrigger): Promise<ReloadRecord>;
  setAdminState(target: { server: string; listener?: string }, state: AdminState): number;
  close(): Promise<void>;
  destroy(): Promise<void>;
  /**
   * Exit for a restart or an upgrade: the endpoint is handed to peers as in close(), but a data plane that
   * outlives serve (kernel) is left running for the next serve, so no established flow is cut.
   * Without such a data plane it is close().
   */
  handover(): Promise<void>;
}

export type ReloadTrigger = 'signal' | 'watch';

/** A reload from the watcher that would remove more than this share of the servers waits for a signal. */
export const HOLD_REMOVAL_SHARE = 0.5;

/**
 * A change from the watcher that removes servers is applied only once the file has kept the same content this
 * long: a writer that pauses between two nodes leaves a valid, shorter spec behind (docs/balancer.md#reload).
 */
export const REMOVAL_CONFIRM_MS = 10_000;

/**
 * Something that announces the endpoint while this host can serve it (the VIP, a BGP route). It reads
 * `health.healthy()` when `health.onChange` says the membership changed. On a planned stop it goes first,
 * so that clients are sent elsewhere before this host drains.
 */
export interface Announcer {
  /** Optional: runs before the data plane binds (BGP puts the endpoint on lo, so `bind: <endpoint>` works). */
  prepare?(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Its part of the status snapshot, e.g. `{ vip: … }`. */
  snapshot(): Partial<StatusSnapshot>;
}

export type AnnouncerFactory = (spec: Spec, health: EndpointHealth, logger: Logger) => Announcer | undefined;

/** Something that holds the VIP for this daemon (src/vip); optional. */
export interface VipHolder {
  start(): Promise<void>;
  stop(): Promise<void>;
  snapshot(): VipSnapshot;
}

export type VipFactory = (spec: Spec, health: EndpointHealth, logger: Logger) => VipHolder | undefined;

export interface StartOptions extends DaemonOptions {
  vipFactory?: VipFactory;
  /** Further announcers (BGP). */
  announcers?: readonly AnnouncerFactory[];
}

export async function startDaemon(options: StartOptions): Promise<Daemon> {
  const logger = options.logger ?? createLogger();
  const source = new SpecSource(options.specPath, logger);
  const { text, digest } = await source.read();
  const result = await source.parse(text);
  if (!result.spec) {
    throw new SpecInvalidError(options.specPath, result.problems);
  }
  checkPeerFlag(result.spec, options.peer);
  const dataPlane = await createDataPlane(result.spec, options.specPath, logger);
  const membership = options.membership ?? (result.spec.discovery?.kubernetes ? new KubernetesMembership({ spec: result.spec, logger }) : new SpecMembership());
  const daemon = new BalancerDaemon(source, result.spec, digest, logger, dataPlane, membership);
  const factories: AnnouncerFactory[] = [...(options.announcers ?? [])];
  if (options.vipFactory) factories.unshift(vipAnnouncer(options.vipFactory));
  try {
    await daemon.start(options.watch ?? result.spec.balancer.watch, factories);
  } catch (error) {
    await daemon.destroy();
    throw error;
  }
  return daemon;
}

/** The data plane the spec asks for; kernel mode checks what it needs first (a UserError, exit 2). */
async function createDataPlane(spec: Spec, specPath: string, logger: Logger): Promise<(resources: ResourceMonitor) => DataPlane> {
  if (spec.balancer.mode === 'proxy') return (resources) => new ProxyDataPlane(logger, resources);
  const floating = [spec.vip?.address, ...(spec.bgp?.addresses ?? [])].filter((a): a is string => a !== undefined);
  await KernelDataPlane.preflight(spec, { floating });
  return () => new KernelDataPlane(logger, { cluster: spec.cluster.name, specPath });
}

function vipAnnouncer(factory: VipFactory): AnnouncerFactory {
  return (spec, health, logger) => {
    const holder = factory(spec, health, logger);
    return holder && { start: () => holder.start(), stop: () => holder.stop(), snapshot: () => ({ vip: holder.snapshot() }) };
  };
}

class BalancerDaemon implements Daemon {
  readonly #source: SpecSource;
  readonly #logger: Logger;
  readonly #startedAt = Date.now();
  readonly #resources: ResourceMonitor;
  readonly #registry: MemberRegistry;
  readonly #membership: MembershipSource;
  readonly #dataPlane: DataPlane;
  #spec: Spec;
  #specDigest: string;
  #loadedAt = Date.now();
  #lastReload: ReloadRecord | undefined;
  readonly #reloads = { ok: 0, failed: 0 };
  #admin: AdminServer | undefined;
  #announcers: Announcer[] = [];
  #reloading: Promise<ReloadRecord> | undefined;
  /** Digest of a spec file that failed to load or was held: the watcher does not retry the same content. */
  #failedDigest: string | undefined;
  /** A change from the watcher that removes servers, waiting to stay the same for REMOVAL_CONFIRM_MS. */
  #pendingRemoval: { digest: string; since: number } | undefined;
  #closing = false;

  constructor(source: SpecSource, spec: Spec, digest: string, logger: Logger, dataPlane: (resources: ResourceMonitor) => DataPlane, membership: MembershipSource) {
    this.#source = source;
    this.#spec = spec;
    this.#specDigest = digest;
    this.#logger = logger;
    this.#membership = membership;
    this.#resources = new ResourceMonitor(logger);
    this.#registry = new MemberRegistry({
      onStateChange: (member, change) => this.#onStateChange(member, change),
      onDeadline: (member) => void this.#closeFlows(member, 'deregistration delay over', 'server-drained'),
      exhaustion: this.#resources,
    }, logger);
    this.#dataPlane = dataPlane(this.#resources);
    // The one membership-change event: the data plane hears it first, the announcers through #health.
    this.#registry.onChange(() => this.#dataPlane.membershipChanged());
  }

  /** What the announcers see: healthy() re-read whenever the registry says the membership changed. */
  readonly #health: EndpointHealth = {
    healthy: () => this.#healthy(),
    onChange: (listener) => this.#registry.onChange(() => listener()),
  };

  get adminUrl(): string {
    return this.#admin?.url ?? `http://${joinHostPort(this.#spec.balancer.admin.host, this.#spec.balancer.admin.port)}`;
  }

  async start(watchFile: boolean, announcers: readonly AnnouncerFactory[]): Promise<void> {
    // The kernel carries no connection on a descriptor of ours.
    const proxied = this.#dataPlane.mode === 'proxy' ? this.#spec.listeners.length : 0;
    await this.#resources.start(descriptorsNeeded(proxied, this.#spec.balancer.maxConnections));
    const created = announcers.map((factory) => factory(this.#spec, this.#health, this.#logger)).filter((a) => a !== undefined);
    for (const announcer of created.filter((a) => a.prepare)) {
      this.#announcers.push(announcer);
      await announcer.prepare!();
    }
    await this.#membership.start(() => void this.#membersChanged());
    await this.#apply(this.#spec);
    const { host, port } = this.#spec.balancer.admin;
    try {
      this.#admin = await startAdminServer({ host, port, token: this.#spec.balancer.adminToken, backend: this, logger: this.#logger });
    } catch (error) {
      if (error instanceof UserError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new UserError('LISTEN', `the admin surface cannot bind ${joinHostPort(host, port)}: ${code ?? (error as Error).message}`, { hint: 'change balancer.admin to a free host:port', cause: error });
    }
    for (const announcer of created) {
      if (!announcer.prepare) this.#announcers.push(announcer);
      await announcer.start();
    }
    if (watchFile) this.#source.watch(() => void this.reload('watch'));
    const spec = this.#spec;
    this.#logger.info(
      { event: 'started', spec: this.#source.path, listeners: spec.listeners.map((l) => `${l.name}:${l.port}`), admin: this.adminUrl, mode: this.#dataPlane.mode, dataPlane: this.#dataPlane.description },
      `serving ${spec.listeners.map((l) => `${l.name} on ${joinHostPort(spec.balancer.bind, l.port)}`).join(', ')} (${this.#dataPlane.description}); status page ${this.adminUrl}/`,
    );
  }

  snapshot(): StatusSnapshot {
    this.#registry.prune((server) => this.#dataPlane.flowsOf(server));
    return assembleSnapshot({
      spec: this.#spec,
      startedAt: this.#startedAt,
      loadedAt: this.#loadedAt,
      lastReload: this.#lastReload,
      reloads: this.#reloads,
      members: (listener) => this.#registry.membersOf(listener),
      counters: (listener) => this.#dataPlane.counters(listener),
      memberCounters: (member) => this.#dataPlane.memberCounters(member),
      dataPlane: { mode: this.#dataPlane.mode, description: this.#dataPlane.description, ...(this.#dataPlane.mode === 'kernel' ? { preserveClientIp: this.#spec.balancer.preserveClientIp } : {}) },
      resources: this.#resources.snapshot(),
      announcers: [...this.#announcers.map((a) => a.snapshot()), this.#membership.snapshot?.() ?? {}],
    });
  }

  setAdminState(target: { server: string; listener?: string }, state: AdminState): number {
    return this.#registry.setAdminState(target, state, this.#spec.deregistrationDelayMs).length;
  }

  reload(trigger: ReloadTrigger = 'signal'): Promise<ReloadRecord> {
    // Reloads run one at a time; a reload requested during another waits for it.
    return this.#serialized(async () => (await this.#reload(trigger)) ?? { at: Date.now(), ok: true, unchanged: true, message: `${this.#source.path} unchanged; nothing applied` });
  }

  /** Reloads and membership updates run one at a time; one requested during another waits for it. */
  #serialized(run: () => Promise<ReloadRecord>): Promise<ReloadRecord> {
    const next = (this.#reloading ?? Promise.resolve(undefined)).then(run, run);
    this.#reloading = next;
    return next;
  }

  /** The membership source has new members: the current spec is applied again with them. */
  async #membersChanged(): Promise<void> {
    await this.#serialized(async () => {
      if (this.#closing) return { at: Date.now(), ok: true, unchanged: true, message: 'stopping' };
      try {
        await this.#apply(this.#spec, this.#membership.drainsRemoved ?? false);
        return { at: Date.now(), ok: true, message: `members from ${this.#membership.name} applied` };
      } catch (error) {
        this.#logger.error({ event: 'membership', source: this.#membership.name, error: (error as Error).message }, `the members from ${this.#membership.name} could not be applied: ${(error as Error).message}; the previous ones stay in place`);
        return { at: Date.now(), ok: false, message: (error as Error).message };
      }
    });
  }

  close(): Promise<void> {
    return this.#stop(async () => {
      await this.#dataPlane.stopAccepting();
      const delayMs = this.#spec.deregistrationDelayMs;
      let active = await this.#dataPlane.activeFlows();
      this.#logger.info({ event: 'stopping', activeConnections: active, graceMs: delayMs }, `stopping: no new connections; ${active} established connection(s) get up to ${delayMs / 1000}s to finish`);
      const deadline = Date.now() + delayMs;
      while (active > 0 && Date.now() < deadline) {
        await sleep(Math.min(100, Math.max(1, deadline - Date.now())));
        active = await this.#dataPlane.activeFlows();
      }
      await this.#dataPlane.close();
      return { log: { closedConnections: active }, message: `stopped${active > 0 ? ` (closed ${active} connection(s) at the deadline)` : ''}` };
    });
  }

  handover(): Promise<void> {
    const dataPlane = this.#dataPlane;
    if (!dataPlane.handover) return this.close();
    return this.#stop(async () => {
      await dataPlane.handover!();
      return { log: { handover: true }, message: 'stopped for a restart: established flows go on through the kernel' };
    });
  }

  /** Both ways of stopping: the endpoint goes to a peer first (VIP, routes), then the data plane ends its way. */
  async #stop(end: () => Promise<{ log: Record<string, unknown>; message: string }>): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#source.close();
    await this.#membership.stop();
    await this.#stopAnnouncers();
    const { log, message } = await end();
    this.#registry.stop();
    this.#resources.stop();
    await this.#admin?.close();
    this.#logger.info({ event: 'stopped', ...log }, message);
  }

  async destroy(): Promise<void> {
    this.#closing = true;
    this.#source.close();
    await this.#membership.stop().catch(() => undefined);
    await this.#stopAnnouncers(() => undefined);
    await this.#dataPlane.destroy();
    this.#registry.stop();
    this.#resources.stop();
    await this.#admin?.close();
  }

  async #reload(trigger: ReloadTrigger): Promise<ReloadRecord | undefined> {
    if (this.#closing) return undefined;
    const path = this.#source.path;
    let file: SpecText;
    try {
      file = await this.#source.read();
    } catch (error) {
      // Mid-replace: the next event brings the file. Anything else (a FIFO, a hung mount, too large) is an answer.
      if (trigger === 'watch' && ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
      return this.#recordReload({ at: Date.now(), ok: false, message: `${(error as Error).message}; still serving the previous config` });
    }
    // Once per change: the watcher and a SIGHUP for the same write apply it once.
    if (file.digest === this.#specDigest) {
      this.#pendingRemoval = undefined;
      this.#failedDigest = undefined; // the bad content written again later is a new change
      // A failed or held reload is over when the file is the config that serves again (a reverted edit).
      if (this.#lastReload && !this.#lastReload.ok) return this.#recordReload({ at: Date.now(), ok: true, message: `${path} is the config that is serving again; the failed reload is cleared` });
      this.#logger[trigger === 'signal' ? 'info' : 'debug']({ event: 'reload', trigger, changed: false }, `${path} unchanged; nothing to apply`);
      return undefined;
    }
    if (trigger === 'watch' && file.digest === this.#failedDigest) return undefined;
    const result = await this.#source.parse(file.text);
    if (!result.spec) {
      this.#failedDigest = file.digest;
      const problems = result.problems.filter((p) => p.severity === 'error').map((p) => formatProblem(p, path));
      return this.#recordReload({ at: Date.now(), ok: false, message: `${path} is invalid; still serving the previous config`, problems });
    }
    if (result.spec.balancer.mode !== this.#spec.balancer.mode) {
      this.#failedDigest = file.digest;
      return this.#recordReload({ at: Date.now(), ok: false, message: `balancer.mode changes from ${this.#spec.balancer.mode} to ${result.spec.balancer.mode}: restart serve for this change; still serving the previous config` });
    }
    const removal = this.#registry.removal(this.#resolve(result.spec));
    if (removal.removed.length > 0) {
      const what = `this change removes ${removal.removed.length} of ${removal.total} servers (${removal.removed.slice(0, 6).join(', ')}${removal.removed.length > 6 ? ', …' : ''})`;
      if (trigger === 'watch' && removal.removed.length > removal.total * HOLD_REMOVAL_SHARE) {
        this.#failedDigest = file.digest;
        this.#pendingRemoval = undefined;
        return this.#recordReload({ at: Date.now(), ok: false, held: true, message: `${what}: held, not applied; a half-written or truncated file looks like this. If it is intended, send SIGHUP to apply it; still serving the previous config` });
      }
      if (trigger === 'watch') {
        // A file still being written can be a valid spec with fewer nodes: a removal waits until the content stayed the same.
        const pending = this.#pendingRemoval;
        const waitedMs = pending?.digest === file.digest ? Date.now() - pending.since : 0;
        if (waitedMs < REMOVAL_CONFIRM_MS) {
          if (pending?.digest !== file.digest) {
            this.#pendingRemoval = { digest: file.digest, since: Date.now() };
            this.#logger.warn({ event: 'reload', pending: true, removed: removal.removed, confirmMs: REMOVAL_CONFIRM_MS }, `${what}: applied if ${path} stays as it is for ${REMOVAL_CONFIRM_MS / 1000}s (a file still being written looks like this); SIGHUP applies it now`);
          }
          this.#source.recheckIn(REMOVAL_CONFIRM_MS - waitedMs);
          return undefined;
        }
      }
      this.#logger.warn({ event: 'reload', removed: removal.removed }, `${what}; applying it ${trigger === 'signal' ? 'because a signal asked for it' : `: ${path} stayed the same for ${REMOVAL_CONFIRM_MS / 1000}s`}`);
    }
    this.#pendingRemoval = undefined;
    try {
      await this.#apply(result.spec);
    } catch (error) {
      return this.#recordReload({ at: Date.now(), ok: false, message: `${(error as Error).message}; still serving the previous config` });
    }
    for (const section of ['vip', 'bgp'] as const) {
      if (JSON.stringify(result.spec[section]) === JSON.stringify(this.#spec[section]) || this.#announcers.length === 0) continue;
      this.#logger.warn({ event: 'reload', [section]: 'unchanged' }, `${section} settings changed: they apply after a restart of serve (a reload does not move the endpoint's announcement)`);
    }
    if (JSON.stringify(result.spec.discovery) !== JSON.stringify(this.#spec.discovery)) {
      this.#logger.warn({ event: 'reload', discovery: 'unchanged' }, `discovery settings changed: they apply after a restart of serve (members still come from ${this.#membership.name})`);
    }
    this.#spec = result.spec;
    this.#specDigest = file.digest;
    this.#failedDigest = undefined;
    this.#loadedAt = Date.now();
    return this.#recordReload({ at: Date.now(), ok: true, message: `reloaded ${path}` });
  }

  /** Every listener is bound and the Kubernetes API's listener (or the first) has a server that is up and ready. */
  #healthy(): boolean {
    if (this.#closing) return false;
    const main = mainListener(this.#spec);
    return main !== undefined && this.#registry.membersOf(main.name).some((m) => m.eligible);
  }

  /** `spec` with the members the membership source knows now. */
  #resolve(spec: Spec): Spec {
    return { ...spec, listeners: this.#membership.listeners(spec) };
  }

  /**
   * Builds the runtime for `spec`, reusing members and bound sockets; on failure nothing changes. `listRemoved`:
   * members gone stay listed, draining, until the deregistration delay is over (a node the cluster no longer lists).
   */
  async #apply(spec: Spec, listRemoved = false): Promise<void> {
    const plan = this.#registry.plan(this.#resolve(spec));
    await this.#dataPlane.apply(plan.spec, plan.listeners);
    this.#registry.commit(plan, (member) => this.#dataPlane.flowsOf(member), { listRemoved });
    this.#registry.prune((member) => this.#dataPlane.flowsOf(member));
  }

  #onStateChange(member: Member, change: StateChange): void {
    if (change.to === 'down' && this.#spec.balancer.onMarkedDown === 'close') void this.#closeFlows(member, 'server marked down', 'connections-closed');
  }

  async #closeFlows(member: Member, reason: string, event: 'connections-closed' | 'server-drained'): Promise<void> {
    let closed: number;
    try {
      closed = await this.#dataPlane.closeFlows(member, reason);
    } catch (error) {
      this.#logger.error({ event, listener: member.listener, server: member.name, error: (error as Error).message }, `${member.name} ${member.listener}: closing its connections failed: ${(error as Error).message}`);
      return;
    }
    if (closed === 0) return;
    const why = event === 'server-drained' ? 'at the deregistration delay' : 'because the server is down';
    this.#logger.info({ event, listener: member.listener, server: member.name, closed }, `${member.name} ${member.listener}${event === 'server-drained' ? ' drained' : ''}: closed ${closed} connection(s) ${why}`);
  }

  async #stopAnnouncers(onError = (error: Error) => { this.#logger.error({ event: 'vip-error', error: error.message }, `releasing the endpoint failed: ${error.message}`); }): Promise<void> {
    await Promise.all(this.#announcers.map((a) => a.stop().catch(onError)));
  }

  #recordReload(record: ReloadRecord): ReloadRecord {
    this.#lastReload = record;
    this.#admin?.invalidate();
    this.#reloads[record.ok ? 'ok' : 'failed']++;
    if (record.ok) this.#logger.info({ event: 'reload', ok: true }, record.message);
    else this.#logger.error({ event: 'reload', ok: false, held: record.held, problems: record.problems }, `reload ${record.held ? 'held' : 'failed'}: ${record.message}${record.problems ? `\n  ${record.problems.join('\n  ')}` : ''}`);
    return record;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
