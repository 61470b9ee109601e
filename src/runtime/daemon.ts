// The running balancer: builds frontends, backends and servers from a spec, swaps them on reload, and
// answers the admin surface. Server state (health, admin state, counters) lives in a registry keyed by
// listener + address + port, so a reload keeps it; listeners keep their bound socket, so a reload never
// refuses a connection. If a new spec is invalid or cannot be applied, the old one keeps serving.
import { UserError } from '../errors.js';
import type { AdminState, StateChange } from '../health/types.js';
import { Backend } from '../lb/backend.js';
import { tcpEngine } from '../lb/tcp/index.js';
import { Frontend } from '../lb/frontend.js';
import { Server, serverKey } from '../lb/server.js';
import { createLogger, type Logger } from '../log.js';
import { joinHostPort } from '../spec/address.js';
import { SpecInvalidError } from '../spec/load.js';
import { formatProblem } from '../spec/problem.js';
import type { Spec } from '../spec/types.js';
import { VERSION } from '../version.js';
import { startAdminServer, type AdminServer } from './admin/server.js';
import type { ListenerSnapshot, ReloadRecord, StatusSnapshot, VipSnapshot } from './snapshot.js';
import { descriptorsNeeded, ResourceMonitor } from './resources.js';
import { SpecSource, type SpecText } from './spec-source.js';

export interface DaemonOptions {
  specPath: string;
  logger?: Logger;
  /** Reload when the spec file changes; default spec.balancer.watch. */
  watch?: boolean;
  /** VIP peer name of this host (serve --peer). */
  peer?: string;
}

export interface Daemon {
  readonly adminUrl: string;
  snapshot(): StatusSnapshot;
  /**
   * Reads and applies the spec file. `signal` (SIGHUP, tests) applies any change; `watch` (the file
   * watcher) holds back a change that would remove most servers at once, until a signal confirms it.
   */
  reload(trigger?: ReloadTrigger): Promise<ReloadRecord>;
  setAdminState(target: { server: string; listener?: string }, state: AdminState): number;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

export type ReloadTrigger = 'signal' | 'watch';

/** A reload from the watcher that would remove more than this share of the servers waits for a signal. */
export const HOLD_REMOVAL_SHARE = 0.5;

/** Something that holds the VIP for this daemon (src/vip); optional. */
export interface VipHolder {
  start(): Promise<void>;
  stop(): Promise<void>;
  snapshot(): VipSnapshot;
}

export type VipFactory = (spec: Spec, healthy: () => boolean, logger: Logger) => VipHolder | undefined;

export async function startDaemon(options: DaemonOptions & { vipFactory?: VipFactory }): Promise<Daemon> {
  const logger = options.logger ?? createLogger();
  const source = new SpecSource(options.specPath, logger);
  const { text, digest } = await source.read();
  const result = await source.parse(text);
  if (!result.spec) {
    throw new SpecInvalidError(options.specPath, result.problems);
  }
  if (result.spec.balancer.mode === 'kernel') {
    throw new UserError('SPEC_VALUE', 'balancer.mode: kernel is not available in this version of serve', { hint: 'remove balancer.mode (proxy is the default)', exitCode: 2 });
  }
  const daemon = new BalancerDaemon(source, result.spec, digest, logger);
  try {
    await daemon.start(options.watch ?? result.spec.balancer.watch, options.vipFactory);
  } catch (error) {
    await daemon.destroy();
    throw error;
  }
  return daemon;
}

class BalancerDaemon implements Daemon {
  readonly #source: SpecSource;
  readonly #specPath: string;
  readonly #logger: Logger;
  readonly #startedAt = Date.now();
  #spec: Spec;
  #specDigest: string;
  #loadedAt = Date.now();
  #lastReload: ReloadRecord | undefined;
  readonly #reloads = { ok: 0, failed: 0 };
  /** Servers by listener|address|port: they survive reloads. */
  #servers = new Map<string, Server>();
  /** Servers a reload removed, kept until their connections are gone or the delay is over. */
  readonly #removed = new Set<Server>();
  /** Frontends by listener name. */
  #frontends = new Map<string, Frontend>();
  /** Frontends a reload removed: no longer accepting, connections draining. */
  readonly #retiredFrontends = new Set<Frontend>();
  #admin: AdminServer | undefined;
  readonly #resources: ResourceMonitor;
  #vip: VipHolder | undefined;
  #reloading: Promise<ReloadRecord> | undefined;
  /** Digest of a spec file that failed to load or was held: the watcher does not retry the same content. */
  #failedDigest: string | undefined;
  #closing = false;

  constructor(source: SpecSource, spec: Spec, digest: string, logger: Logger) {
    this.#source = source;
    this.#specPath = source.path;
    this.#spec = spec;
    this.#specDigest = digest;
    this.#logger = logger;
    this.#resources = new ResourceMonitor(logger);
  }

  get adminUrl(): string {
    return this.#admin?.url ?? `http://${joinHostPort(this.#spec.balancer.admin.host, this.#spec.balancer.admin.port)}`;
  }

  async start(watchFile: boolean, vipFactory: VipFactory | undefined): Promise<void> {
    await this.#resources.start(descriptorsNeeded(this.#spec.listeners.length, this.#spec.balancer.maxConnections));
    await this.#apply(this.#spec);
    const { host, port } = this.#spec.balancer.admin;
    try {
      this.#admin = await startAdminServer({ host, port, token: this.#spec.balancer.adminToken, backend: this, logger: this.#logger });
    } catch (error) {
      if (error instanceof UserError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      throw new UserError('LISTEN', `the admin surface cannot bind ${joinHostPort(host, port)}: ${code ?? (error as Error).message}`, { hint: 'change balancer.admin to a free host:port', cause: error });
    }
    this.#vip = vipFactory?.(this.#spec, () => this.#healthy(), this.#logger);
    await this.#vip?.start();
    if (watchFile) this.#source.watch(() => void this.reload('watch'));
    this.#logger.info(
      { event: 'started', spec: this.#specPath, listeners: this.#spec.listeners.map((l) => `${l.name}:${l.port}`), admin: this.adminUrl, tcp: tcpEngine().name },
      `serving ${this.#spec.listeners.map((l) => `${l.name} on ${joinHostPort(this.#spec.balancer.bind, l.port)}`).join(', ')}; status page ${this.adminUrl}/`,
    );
  }

  snapshot(): StatusSnapshot {
    this.#prune();
    const now = Date.now();
    const listeners: ListenerSnapshot[] = [];
    for (const listener of this.#spec.listeners) {
      const frontend = this.#frontends.get(listener.name);
      if (!frontend) continue;
      const servers = frontend.backend.servers.map((s) => s.snapshot());
      for (const server of this.#removed) if (server.listener === listener.name) servers.push(server.snapshot());
      listeners.push({
        name: listener.name,
        bind: this.#spec.balancer.bind,
        port: listener.port,
        targetPort: listener.targetPort,
        balance: listener.balance,
        checkType: listener.healthCheck.type,
        ...frontend.counters,
        servers,
      });
    }
    return {
      version: VERSION,
      pid: process.pid,
      startedAt: this.#startedAt,
      now,
      spec: { source: this.#specPath, cluster: this.#spec.cluster.name, endpoint: this.#spec.endpoint, loadedAt: this.#loadedAt },
      ...(this.#lastReload ? { lastReload: this.#lastReload } : {}),
      reloads: { ...this.#reloads },
      listeners,
      resources: this.#resources.snapshot(),
      ...(this.#vip ? { vip: this.#vip.snapshot() } : {}),
    };
  }

  setAdminState(target: { server: string; listener?: string }, state: AdminState): number {
    let changed = 0;
    for (const server of this.#servers.values()) {
      if (server.name !== target.server || (target.listener !== undefined && server.listener !== target.listener)) continue;
      const previous = server.adminState;
      server.adminState = state;
      if (state === 'ready') server.cancelDrain();
      else server.drainFor(this.#spec.deregistrationDelayMs);
      changed++;
      if (previous !== state) {
        this.#logger.info(
          { event: 'admin-state', listener: server.listener, server: server.name, from: previous, to: state },
          `${server.name} ${server.listener} admin state ${previous} → ${state}${state === 'ready' ? '' : ` (established connections closed in ${this.#spec.deregistrationDelayMs / 1000}s)`}`,
        );
      }
    }
    if (changed === 0) {
      const where = target.listener ? ` on listener ${target.listener}` : '';
      throw new UserError('ADMIN_NOT_FOUND', `no server named ${target.server}${where}`, { hint: `known servers: ${[...new Set([...this.#servers.values()].map((s) => s.name))].join(', ')}` });
    }
    return changed;
  }

  reload(trigger: ReloadTrigger = 'signal'): Promise<ReloadRecord> {
    // Reloads run one at a time; a reload requested during another waits for it.
    const run = async (): Promise<ReloadRecord> => (await this.#reload(trigger)) ?? { at: Date.now(), ok: true, unchanged: true, message: `${this.#specPath} unchanged; nothing applied` };
    const next = (this.#reloading ?? Promise.resolve(undefined)).then(run, run);
    this.#reloading = next;
    return next;
  }

  async #reload(trigger: ReloadTrigger): Promise<ReloadRecord | undefined> {
    if (this.#closing) return undefined;
    let file: SpecText;
    try {
      file = await this.#source.read();
    } catch (error) {
      if (trigger === 'watch') return undefined; // mid-replace, or gone: the next event brings the file
      return this.#recordReload({ at: Date.now(), ok: false, message: `${(error as Error).message}; still serving the previous config` });
    }
    // Once per change: the watcher and a SIGHUP for the same write apply it once.
    if (file.digest === this.#specDigest) {
      this.#logger.debug({ event: 'reload', trigger, changed: false }, `${this.#specPath} unchanged; nothing to apply`);
      return undefined;
    }
    if (trigger === 'watch' && file.digest === this.#failedDigest) return undefined;
    const result = await this.#source.parse(file.text);
    if (!result.spec) {
      this.#failedDigest = file.digest;
      const problems = result.problems.filter((p) => p.severity === 'error').map((p) => formatProblem(p, this.#specPath));
      return this.#recordReload({ at: Date.now(), ok: false, message: `${this.#specPath} is invalid; still serving the previous config`, problems });
    }
    if (result.spec.balancer.mode !== this.#spec.balancer.mode) {
      this.#failedDigest = file.digest;
      return this.#recordReload({ at: Date.now(), ok: false, message: `balancer.mode changes from ${this.#spec.balancer.mode} to ${result.spec.balancer.mode}: restart serve for this change; still serving the previous config` });
    }
    const removal = this.#removal(result.spec);
    if (removal.removed.length > 0 && removal.removed.length > removal.total * HOLD_REMOVAL_SHARE) {
      const what = `this change removes ${removal.removed.length} of ${removal.total} servers (${removal.removed.slice(0, 6).join(', ')}${removal.removed.length > 6 ? ', …' : ''})`;
      if (trigger === 'watch') {
        this.#failedDigest = file.digest;
        return this.#recordReload({ at: Date.now(), ok: false, held: true, message: `${what}: held, not applied; a half-written or truncated file looks like this. If it is intended, send SIGHUP to apply it; still serving the previous config` });
      }
      this.#logger.warn({ event: 'reload', removed: removal.removed }, `${what}; applying it because a signal asked for it`);
    }
    try {
      await this.#apply(result.spec);
    } catch (error) {
      return this.#recordReload({ at: Date.now(), ok: false, message: `${(error as Error).message}; still serving the previous config` });
    }
    if (JSON.stringify(result.spec.vip) !== JSON.stringify(this.#spec.vip) && this.#vip) {
      this.#logger.warn({ event: 'reload', vip: 'unchanged' }, 'vip settings changed: they apply after a restart of serve (the VIP is not moved by a reload)');
    }
    this.#spec = result.spec;
    this.#specDigest = file.digest;
    this.#failedDigest = undefined;
    this.#loadedAt = Date.now();
    return this.#recordReload({ at: Date.now(), ok: true, message: `reloaded ${this.#specPath}` });
  }

  /** Servers (listener/name) the running config has and `spec` would not. */
  #removal(spec: Spec): { removed: string[]; total: number } {
    const next = new Set(spec.listeners.flatMap((l) => l.servers.map((t) => serverKey(l.name, t))));
    const removed = [...this.#servers.values()].filter((s) => !next.has(s.key)).map((s) => `${s.listener}/${s.name}`);
    return { removed, total: this.#servers.size };
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#source.close();
    // Hand the VIP to a peer first, so new connections go there while ours finish.
    await this.#vip?.stop().catch((error: Error) => this.#logger.error({ event: 'vip-error', error: error.message }, `releasing the VIP failed: ${error.message}`));
    const frontends = [...this.#frontends.values(), ...this.#retiredFrontends];
    for (const frontend of frontends) frontend.stopAccepting();
    const active = () => frontends.reduce((sum, f) => sum + f.connections.size, 0);
    const delayMs = this.#spec.deregistrationDelayMs;
    this.#logger.info({ event: 'stopping', activeConnections: active(), graceMs: delayMs }, `stopping: no new connections; ${active()} established connection(s) get up to ${delayMs / 1000}s to finish`);
    const deadline = Date.now() + delayMs;
    while (active() > 0 && Date.now() < deadline) await sleep(Math.min(100, Math.max(1, deadline - Date.now())));
    const left = active();
    for (const frontend of frontends) frontend.destroyConnections('shutting down');
    for (const server of [...this.#servers.values(), ...this.#removed]) server.stop();
    this.#resources.stop();
    await this.#admin?.close();
    this.#logger.info({ event: 'stopped', closedConnections: left }, `stopped${left > 0 ? ` (closed ${left} connection(s) at the deadline)` : ''}`);
  }

  async destroy(): Promise<void> {
    this.#closing = true;
    this.#source.close();
    await this.#vip?.stop().catch(() => undefined);
    const frontends = [...this.#frontends.values(), ...this.#retiredFrontends];
    for (const frontend of frontends) frontend.stopAccepting();
    for (const frontend of frontends) frontend.destroyConnections('shutting down');
    for (const server of [...this.#servers.values(), ...this.#removed]) server.stop();
    this.#resources.stop();
    await this.#admin?.close();
  }

  /** Every listener is bound and the kubernetes listener (or the first) has a server that is up and ready. */
  #healthy(): boolean {
    if (this.#closing) return false;
    const main = this.#frontends.get('kubernetes') ?? this.#frontends.values().next().value;
    return main !== undefined && main.backend.healthy;
  }

  /** Builds the runtime for `spec`, reusing servers and bound sockets; on failure nothing changes. */
  async #apply(spec: Spec): Promise<void> {
    const servers = new Map<string, Server>();
    const created: Server[] = [];
    const backends = spec.listeners.map((listener) => {
      const list = listener.servers.map((target) => {
        const key = serverKey(listener.name, target);
        let server = this.#servers.get(key);
        if (!server) {
          server = new Server(listener.name, target, listener.healthCheck, { onStateChange: (s, change) => this.#onStateChange(s, change), exhaustion: this.#resources }, this.#logger);
          created.push(server);
        }
        servers.set(key, server);
        return server;
      });
      return new Backend(listener, spec.balancer, list);
    });

    // Bind new listeners first: if one cannot bind, undo and keep the old runtime.
    const frontends = new Map<string, Frontend>();
    const bound: Frontend[] = [];
    try {
      for (const backend of backends) {
        const existing = this.#frontends.get(backend.name);
        if (existing && existing.port === backend.listener.port && existing.bind === spec.balancer.bind) {
          frontends.set(backend.name, existing);
          continue;
        }
        const frontend = new Frontend(spec.balancer.bind, backend.listener.port, backend, spec.balancer.maxConnections, this.#logger, this.#resources);
        // A port moving between listeners: release the old socket first.
        const holder = [...this.#frontends.values()].find((f) => f.port === frontend.port && f.bind === frontend.bind && !frontends.has(f.backend.name));
        if (holder) throw new UserError('LISTEN', `port ${frontend.port} moves from listener ${holder.backend.name} to ${backend.name}; restart serve for this change`);
        await frontend.listen();
        bound.push(frontend);
        frontends.set(backend.name, frontend);
      }
    } catch (error) {
      for (const frontend of bound) frontend.stopAccepting();
      throw error;
    }

    // Commit: swap backends, apply per-server changes, retire what is gone.
    const byName = new Map(backends.map((b) => [b.name, b]));
    for (const [name, frontend] of frontends) frontend.backend = byName.get(name)!;
    for (const listener of spec.listeners) {
      for (const target of listener.servers) {
        const server = servers.get(serverKey(listener.name, target))!;
        server.weight = target.weight;
        if (!created.includes(server)) server.setCheck(listener.healthCheck);
      }
    }
    for (const [name, frontend] of this.#frontends) {
      if (frontends.get(name) === frontend) continue;
      this.#retiredFrontends.add(frontend);
      frontend.stopAccepting();
      this.#logger.info({ event: 'listener-removed', listener: name }, `listener ${name} removed: no new connections; established ones drain`);
    }
    for (const [key, server] of this.#servers) {
      if (servers.has(key)) continue;
      this.#retire(server, spec.deregistrationDelayMs);
    }
    this.#servers = servers;
    this.#frontends = frontends;
    this.#prune();
    for (const server of created) server.start();
  }

  /** A server removed from the spec: no new connections, its connections closed at the delay. */
  #retire(server: Server, delayMs: number): void {
    server.removed = true;
    server.stop();
    if (server.connections.size === 0) return;
    this.#removed.add(server);
    this.#logger.info({ event: 'server-removed', listener: server.listener, server: server.name, connections: server.connections.size }, `${server.name} ${server.listener} removed from the spec: ${server.connections.size} connection(s) drain for up to ${delayMs / 1000}s`);
    server.drainFor(delayMs);
  }

  /** Forgets removed servers and retired listeners once their last connection is gone. */
  #prune(): void {
    for (const server of this.#removed) if (server.connections.size === 0) this.#removed.delete(server);
    for (const frontend of this.#retiredFrontends) if (frontend.connections.size === 0) this.#retiredFrontends.delete(frontend);
  }

  #onStateChange(server: Server, change: StateChange): void {
    if (change.to !== 'down' || this.#spec.balancer.onMarkedDown !== 'close') return;
    const closed = server.closeConnections('server marked down');
    if (closed > 0) {
      this.#logger.info({ event: 'connections-closed', listener: server.listener, server: server.name, closed }, `${server.name} ${server.listener}: closed ${closed} connection(s) because the server is down`);
    }
  }

  #recordReload(record: ReloadRecord): ReloadRecord {
    this.#lastReload = record;
    this.#reloads[record.ok ? 'ok' : 'failed']++;
    if (record.ok) this.#logger.info({ event: 'reload', ok: true }, record.message);
    else this.#logger.error({ event: 'reload', ok: false, problems: record.problems }, `reload failed: ${record.message}${record.problems ? `\n  ${record.problems.join('\n  ')}` : ''}`);
    return record;
  }

}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
