// Members discovered from the cluster (discovery.kubernetes): the `kubernetes` EndpointSlices in `default`, listed
// and then watched from the list's resourceVersion, with bookmarks; an expired resourceVersion (410) or a lost watch
// means a new list. The first connection goes to the spec's controlPlane nodes (the endpoint may not be up yet), later
// ones to the API servers last discovered, then the spec's again. When the API cannot be reached, or says something no
// live cluster says (no API server at all), the last known list is kept: fail static.
import type { Logger } from '../../log.js';
import type { DiscoverySnapshot, StatusSnapshot } from '../../runtime/snapshot.js';
import { joinHostPort } from '../../spec/address.js';
import { listenerOf } from '../../spec/listener-role.js';
import type { Listener, Spec } from '../../spec/types.js';
import type { MembershipSource } from '../source.js';
import { ApiError, listSlices, loadCredentials, watchSlices, type ApiCredentials, type WatchEvent } from './client.js';
import { apiServers, discoveredNodes, listenersWith, type ApiServer, type EndpointSliceLike } from './slices.js';

export interface KubernetesTiming {
  /** A list must answer within this. */
  listTimeoutMs: number;
  /** The server ends each watch after about this many seconds (a random part is added, as client-go does). */
  watchSeconds: number;
  /** A watch that sends nothing (no event, no bookmark) for this long is dropped. */
  stallMs: number;
  /** Back-off after a failure: first, then doubled up to max. */
  backoffMs: number;
  maxBackoffMs: number;
}

export const DEFAULT_TIMING: KubernetesTiming = { listTimeoutMs: 10_000, watchSeconds: 300, stallMs: 360_000, backoffMs: 1000, maxBackoffMs: 30_000 };

export interface KubernetesMembershipOptions {
  spec: Spec;
  logger: Logger;
  timing?: Partial<KubernetesTiming>;
  /** Injected for tests; default: loaded from discovery.kubernetes.kubeconfig or the service account. */
  credentials?: ApiCredentials;
}

export class KubernetesMembership implements MembershipSource {
  readonly name = 'kubernetes';
  readonly drainsRemoved = true;
  readonly #o: KubernetesMembershipOptions;
  readonly #timing: KubernetesTiming;
  #credentials: ApiCredentials | undefined;
  #spec: Spec;
  #changed: () => void = () => undefined;
  /** The slices by name, as last listed and watched. */
  #slices = new Map<string, EndpointSliceLike>();
  #resourceVersion = '';
  /** The API servers the members come from; undefined until the first list (the spec's controlPlane serves). */
  #servers: ApiServer[] | undefined;
  #state: DiscoverySnapshot['state'] = 'starting';
  #stateSince = Date.now();
  #lastSyncAt: number | undefined;
  #lastError: string | undefined;
  #server: string | undefined;
  #lists = 0;
  #errors = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #abortWatch: (() => void) | undefined;
  #wake: (() => void) | undefined;

  constructor(options: KubernetesMembershipOptions) {
    this.#o = options;
    this.#spec = options.spec;
    this.#timing = { ...DEFAULT_TIMING, ...options.timing };
    this.#credentials = options.credentials;
  }

  /** Loads the credentials now, so a bad kubeconfig stops serve at start with a clear error (UserError, exit 2). */
  async prepare(): Promise<void> {
    this.#credentials ??= await loadCredentials(this.#spec.discovery?.kubernetes?.kubeconfig);
  }

  listeners(spec: Spec): Listener[] {
    this.#spec = spec;
    if (this.#servers === undefined) return spec.listeners;
    return listenersWith(spec, discoveredNodes(this.#servers, spec.controlPlane));
  }

  async start(changed: () => void): Promise<void> {
    await this.prepare();
    this.#changed = changed;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abortWatch?.();
    this.#wake?.();
    await this.#loop;
  }

  snapshot(): Partial<StatusSnapshot> {
    const nodes = this.#servers ? discoveredNodes(this.#servers, this.#spec.controlPlane) : [];
    return {
      discovery: {
        source: 'kubernetes',
        state: this.#state,
        stateSince: this.#stateSince,
        ...(this.#lastSyncAt !== undefined ? { lastSyncAt: this.#lastSyncAt } : {}),
        ...(this.#lastError !== undefined ? { lastError: this.#lastError } : {}),
        ...(this.#server !== undefined ? { server: this.#server } : {}),
        ...(this.#resourceVersion ? { resourceVersion: this.#resourceVersion } : {}),
        nodes: nodes.map((n) => ({ name: n.name, address: n.address })),
        lists: this.#lists,
        errors: this.#errors,
      },
    };
  }

  /** Where to try, in order: the API servers last discovered, then the spec's control-plane nodes, then the kubeconfig's server. */
  #candidates(): string[] {
    const port = listenerOf(this.#spec, 'kubernetes')?.targetPort ?? 6443;
    const urls = [
      ...(this.#servers ?? []).map((s) => `https://${joinHostPort(s.address, s.port)}`),
      ...this.#spec.controlPlane.map((n) => `https://${joinHostPort(n.address, n.ports?.kubernetes ?? port)}`),
      this.#credentials!.server,
    ];
    return [...new Set(urls)];
  }

  async #run(): Promise<void> {
    let attempt = 0;
    let failures = 0;
    while (!this.#stopped) {
      const candidates = this.#candidates();
      // Stay with the server that worked; after a failure move on to the next one.
      const base = this.#server !== undefined && failures === 0 && candidates.includes(this.#server) ? this.#server : candidates[attempt % candidates.length];
      const target = { base, credentials: this.#credentials! };
      try {
        if (!this.#resourceVersion) {
          await this.#list(target);
          this.#synced(base);
        }
        failures = 0;
        await this.#watch(target, () => this.#synced(base));
      } catch (error) {
        if (this.#stopped) return;
        if (error instanceof ApiError && error.status === 410) {
          this.#resourceVersion = '';
          continue;
        }
        failures++;
        attempt++;
        this.#errors++;
        this.#fail(base, error as Error);
        await this.#sleep(Math.min(this.#timing.maxBackoffMs, this.#timing.backoffMs * 2 ** Math.min(failures - 1, 10)));
      }
    }
  }

  async #list(target: { base: string; credentials: ApiCredentials }): Promise<void> {
    const list = await listSlices(target, this.#timing.listTimeoutMs);
    this.#lists++;
    const slices = new Map<string, EndpointSliceLike>();
    for (const item of list.items as EndpointSliceLike[]) slices.set(item.metadata?.name ?? '', item);
    this.#slices = slices;
    this.#resourceVersion = list.resourceVersion;
    this.#lastSyncAt = Date.now();
    this.#publish(`list at ${target.base}`);
  }

  /** The API answered at `base` (a list, or a watch that opened). */
  #synced(base: string): void {
    this.#server = base;
    if (this.#state !== 'synced') this.#setState('synced', undefined);
  }

  async #watch(target: { base: string; credentials: ApiCredentials }, onOpen: () => void): Promise<void> {
    let expired = false;
    const watch = watchSlices(target, {
      resourceVersion: this.#resourceVersion,
      // Spread the watches' ends (client-go picks between the value and twice it).
      timeoutSeconds: Math.round(this.#timing.watchSeconds * (1 + Math.random())),
      stallMs: this.#timing.stallMs,
      onOpen,
      onEvent: (event) => { if (!this.#apply(event)) { expired = true; watch.abort(); } },
    });
    this.#abortWatch = watch.abort;
    try {
      await watch.done;
    } finally {
      this.#abortWatch = undefined;
    }
    if (expired) throw new ApiError(410, 'the resourceVersion expired');
  }

  /** One watch event; false when the watch must start over from a new list (410 Expired, or an error event). */
  #apply(event: WatchEvent): boolean {
    const object = event.object ?? {};
    const rv = object.metadata?.resourceVersion as string | undefined;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.#slices.set(object.metadata?.name ?? '', object);
        break;
      case 'DELETED':
        this.#slices.delete(object.metadata?.name ?? '');
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR':
        this.#resourceVersion = '';
        if (object.code !== 410) this.#o.logger.warn({ event: 'discovery', status: object.code, message: object.message }, `discovery: the watch ended with ${object.code} ${object.reason ?? ''}: ${object.message ?? ''}; listing again`);
        return false;
      default:
        return true;
    }
    if (rv) this.#resourceVersion = rv;
    this.#lastSyncAt = Date.now();
    if (event.type !== 'BOOKMARK') this.#publish('watch');
    return true;
  }

  /** Takes the slices' API servers as the members, unless the answer is one no live cluster gives. */
  #publish(how: string): void {
    const servers = apiServers(this.#slices.values());
    if (servers.length === 0) {
      this.#o.logger.warn({ event: 'discovery', servers: 0 }, `discovery: the cluster's kubernetes EndpointSlices name no ready API server (${how}); keeping the last known ${this.#servers ? `${this.#servers.length} node(s)` : 'spec controlPlane'} (fail static)`);
      return;
    }
    const before = new Set((this.#servers ?? []).map((s) => s.address));
    const after = new Set(servers.map((s) => s.address));
    if (this.#servers !== undefined && before.size === after.size && [...after].every((a) => before.has(a))) {
      this.#servers = servers;
      return;
    }
    const previous = this.#servers;
    this.#servers = servers;
    const nodes = discoveredNodes(servers, this.#spec.controlPlane);
    const label = (s: ApiServer) => `${nodes.find((n) => n.address === s.address)?.name ?? s.address} ${s.address}`;
    if (previous === undefined) {
      this.#o.logger.info({ event: 'discovery', nodes: nodes.map((n) => ({ name: n.name, address: n.address })) }, `discovery: the cluster lists ${servers.length} API server(s): ${servers.map(label).join(', ')}`);
    } else {
      const added = servers.filter((s) => !before.has(s.address));
      const gone = previous.filter((s) => !after.has(s.address));
      this.#o.logger.info({ event: 'discovery', added: added.map((s) => s.address), removed: gone.map((s) => s.address) },
        `discovery: ${[added.length ? `${added.map(label).join(', ')} appeared (checked before it gets traffic)` : '', gone.length ? `${gone.map((s) => s.address).join(', ')} disappeared (drained for ${this.#spec.deregistrationDelayMs / 1000}s)` : ''].filter(Boolean).join('; ')}`);
    }
    this.#changed();
  }

  #fail(base: string, error: Error): void {
    const message = `${base}: ${error.message}`;
    this.#lastError = message;
    if (this.#state === 'failing') {
      this.#o.logger.debug({ event: 'discovery', error: message }, `discovery: ${message}`);
      return;
    }
    this.#setState('failing', message);
    const kept = this.#servers ? `the last known ${this.#servers.length} control-plane node(s)` : 'the spec\'s controlPlane';
    this.#o.logger.warn({ event: 'discovery', state: 'failing', error: message }, `discovery: cannot list or watch the cluster's API servers (${message}); keeping ${kept} (fail static), retrying`);
  }

  #setState(state: DiscoverySnapshot['state'], error: string | undefined): void {
    const was = this.#state;
    this.#state = state;
    this.#stateSince = Date.now();
    if (state === 'synced' && was === 'failing') this.#o.logger.info({ event: 'discovery', state }, `discovery: the API answers again (${this.#server}); following the cluster's API servers`);
    if (error === undefined && state === 'synced') this.#lastError = undefined;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#wake = undefined; resolve(); }, ms);
      this.#wake = () => { clearTimeout(timer); this.#wake = undefined; resolve(); };
    });
  }
}
