// Runs a rehearsal plan: builds the lab in network namespaces, starts the stand-in nodes, the user's engines on
// the LB hosts and the client, runs the drill's steps and records everything it sees. Whatever happens —
// an error, SIGINT — the lab goes away: processes killed by PID (the LB hosts' whole PID namespaces with their
// init), namespaces deleted, the work directory removed.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EXIT, UserError } from '../errors.js';
import { joinHostPort } from '../spec/address.js';
import type { AgentCommand, ClientAgentConfig, LbAgentConfig, NodeAgentConfig } from './agent.js';
import type { ClientEvent } from './client.js';
import { NamespaceLab, removeStale, type LabPlan, type Proc } from './lab.js';
import type { Observations, SetupRecord, StepRecord } from './observe.js';
import { issueLabPki, type LabPki } from './pki.js';
import type { EngineName, PlannedLbHost, PlannedNode, PlannedStep, RehearsalPlan } from './plan.js';
import { AGENT_CONFIG_ENV, AGENT_ENV, selfArgv } from './self.js';

const run = promisify(execFile);

/** Namespace prefix of rehearsal labs (`ip netns list` shows cerh-<pid>x<id>-<host>). */
export const LAB_PREFIX = 'cerh';
/** Work directories: <tmp>/ce-rehearse-<pid>-<random>. */
export const WORK_PREFIX = 'ce-rehearse-';

/** Traffic of the client: enough to see an outage of a fraction of a second, little enough for 2 cores. */
export const TRAFFIC = { requestsPerSecond: 20, talosPerSecond: 2, watches: 6, execs: 1, requestTimeoutMs: 5000 } as const;

export interface RunOptions {
  signal: AbortSignal;
  /** One line per phase and step as it happens. */
  progress(line: string): void;
}

/** Everything the drill needs to be root for, checked before anything is built. */
export async function checkPrerequisites(plan: RehearsalPlan): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new UserError('REHEARSE', 'rehearse builds its lab in network namespaces and needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN)', { hint: 'run it with sudo, or look at the plan without a lab: cluster-endpoint rehearse … --dry-run', exitCode: EXIT.invalid });
  }
  const engines = new Set(plan.lbHosts.flatMap((h) => h.engines));
  const needed = ['ip', 'unshare', 'mount', ...(engines.has('haproxy') ? ['haproxy'] : []), ...(engines.has('keepalived') ? ['keepalived'] : [])];
  for (const program of needed) {
    try {
      await run('/bin/sh', ['-c', `command -v ${program}`]);
    } catch {
      throw new UserError('REHEARSE', `${program} is not installed`, { hint: `install it (Debian: apt-get install ${program === 'ip' ? 'iproute2' : program === 'unshare' || program === 'mount' ? 'util-linux mount' : program})`, exitCode: EXIT.invalid });
    }
  }
  try {
    await run('ip', ['netns', 'list']);
  } catch (error) {
    throw new UserError('REHEARSE', `network namespaces are not available: ${(error as Error).message.split('\n')[0]}`, { hint: 'rehearse needs ip netns (root or CAP_SYS_ADMIN + CAP_NET_ADMIN, a kernel with network namespaces)', exitCode: EXIT.invalid });
  }
}

/** Removes what crashed earlier rehearsals (their process gone) left: namespaces and work directories. */
export async function removeLeftovers(): Promise<void> {
  await removeStale(LAB_PREFIX);
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    const match = new RegExp(`^${WORK_PREFIX}(\\d+)-`).exec(name);
    if (!match) continue;
    try { process.kill(Number(match[1]), 0); } catch { await rm(join(tmpdir(), name), { recursive: true, force: true }); }
  }
}

interface Agent { proc: Proc; host: string; role: 'node' | 'lb' | 'client' }

class Aborted extends Error {}

export async function runRehearsal(plan: RehearsalPlan, options: RunOptions): Promise<Observations> {
  await removeLeftovers();
  const work = await mkdtemp(join(tmpdir(), `${WORK_PREFIX}${process.pid}-`));
  await chmod(work, 0o700);
  let lab: NamespaceLab | undefined;
  const observations: Observations = { startedAt: Date.now(), endedAt: 0, client: [], nodes: [], logs: [], exits: [], holders: [], steps: [], interrupted: false };
  const agents: Agent[] = [];
  try {
    options.progress(`building the lab: ${plan.nodes.length} node(s), ${plan.lbHosts.length} LB host(s), a client`);
    const pki = await issueLabPki(plan.nodes.map((n) => ({ name: n.name, addresses: [n.address], kubernetesSans: plan.apiserver.kubernetesSans, talosSans: plan.apiserver.talosSans })));
    const files = await writeWorkFiles(work, plan, pki);
    lab = await NamespaceLab.fromPlan(labPlan(plan), LAB_PREFIX);
    await routes(lab, plan);
    abortable(options.signal);
    const self = await selfArgv();
    const drill = new Drill(lab, plan, observations, options, self, work, pki, files, agents);
    await drill.run();
  } catch (error) {
    if (!(error instanceof Aborted)) throw error;
    observations.interrupted = true;
  } finally {
    observations.endedAt = Date.now();
    options.progress('removing the lab');
    // The agents end by themselves when their stdin closes (an LB host's init takes its PID namespace with it and
    // is reaped by its parent); what has not ended within 2 s is killed.
    for (const agent of agents) agent.proc.child.stdin?.end();
    await Promise.all(agents.map((a) => Promise.race([a.proc.exited, new Promise((r) => setTimeout(r, 2000).unref())])));
    await lab?.cleanup();
    await rm(work, { recursive: true, force: true });
    options.progress('lab removed');
  }
  return observations;
}

function abortable(signal: AbortSignal): void {
  if (signal.aborted) throw new Aborted();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) { reject(new Aborted()); return; }
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(timer); reject(new Aborted()); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function labPlan(plan: RehearsalPlan): LabPlan {
  const hosts: LabPlan['hosts'] = [
    ...plan.nodes.map((n) => ({ name: n.name, links: [{ segment: n.segment, name: 'eth0', addresses: [`${n.address}/${prefixOf(plan, n.segment)}`] }] })),
    ...plan.lbHosts.map((h) => ({ name: h.name, links: h.links })),
    { name: 'client', links: [{ segment: plan.client.segment, name: 'eth0', addresses: [`${plan.client.address}/${prefixOf(plan, plan.client.segment)}`] }] },
    ...(plan.router ? [{ name: 'router', links: plan.router.links.map((l, i) => ({ segment: l.segment, name: `eth${i}`, addresses: [`${l.address}/${prefixOf(plan, l.segment)}`] })) }] : []),
  ];
  return { segments: plan.segments.map((s) => s.name), hosts };
}

function prefixOf(plan: RehearsalPlan, segment: string): string {
  return plan.segments.find((s) => s.name === segment)?.cidr.split('/')[1] ?? '24';
}

/** With several subnets, every host routes through the lab's router. */
async function routes(lab: NamespaceLab, plan: RehearsalPlan): Promise<void> {
  if (!plan.router) return;
  await lab.exec('router', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  const via = new Map(plan.router.links.map((l) => [l.segment, l.address]));
  const add = (host: string, segment: string) => lab.exec(host, ['ip', 'route', 'add', 'default', 'via', via.get(segment)!]);
  for (const node of plan.nodes) await add(node.name, node.segment);
  for (const host of plan.lbHosts) await add(host.name, host.links[0].segment);
  await add('client', plan.client.segment);
}

interface WorkFiles { ca: string; talosCa: string; checkPem: string; checkCert: string; checkKey: string }

/** The engines' files with the lab's paths put in, the check's certificate, the scripts given. */
async function writeWorkFiles(work: string, plan: RehearsalPlan, pki: LabPki): Promise<WorkFiles> {
  const files: WorkFiles = { ca: join(work, 'ca.crt'), talosCa: join(work, 'talos-ca.crt'), checkPem: join(work, 'check.pem'), checkCert: join(work, 'check.crt'), checkKey: join(work, 'check.key') };
  await writeFile(files.ca, pki.kubernetesCa);
  await writeFile(files.talosCa, pki.talosCa);
  await writeFile(files.checkPem, `${pki.check.cert.trimEnd()}\n${pki.check.key.trimEnd()}\n`, { mode: 0o600 });
  await writeFile(files.checkCert, pki.check.cert);
  await writeFile(files.checkKey, pki.check.key, { mode: 0o600 });
  await mkdir(join(work, 'files'), { mode: 0o755 });
  // The scripts as given, with their modes (a script that is not executable stays so: keepalived says why).
  for (const script of plan.scripts) await writeFile(join(work, 'files', script.name), script.text, { mode: script.mode & 0o777 });
  return files;
}

function substitute(text: string, work: string, files: WorkFiles): string {
  return text
    .replaceAll('@CHECK_PEM@', files.checkPem).replaceAll('@CHECK_CERT@', files.checkCert).replaceAll('@CHECK_KEY@', files.checkKey)
    .replaceAll('@CA@', files.ca).replace(/@FILE:([^|@]+)\|[^@]*@/g, (_m, name: string) => join(work, 'files', name));
}

/** The drill, step by step, with the lab's agents. */
class Drill {
  readonly #lab: NamespaceLab;
  readonly #plan: RehearsalPlan;
  readonly #o: Observations;
  readonly #options: RunOptions;
  readonly #self: string[];
  readonly #work: string;
  readonly #pki: LabPki;
  readonly #files: WorkFiles;
  readonly #agents: Agent[];
  readonly #nodeAgents = new Map<string, Agent>();
  readonly #lbAgents = new Map<string, Agent>();
  #client: Agent | undefined;
  readonly #addresses = new Map<string, string[]>();
  #unixId = 0;
  readonly #unixAnswers = new Map<number, (answer: string) => void>();
  readonly #openWatches = new Set<number>();
  readonly #openExecs = new Set<number>();
  /** Each LB host's VRRP state as its keepalived or serve last announced it, and when. */
  readonly #vrrp = new Map<string, { state: string; at: number }>();
  readonly #starts = new Map<string, number>();
  /** Requests sent and not answered yet: id → when sent. */
  readonly #pending = new Map<number, number>();

  constructor(lab: NamespaceLab, plan: RehearsalPlan, observations: Observations, options: RunOptions, self: string[], work: string, pki: LabPki, files: WorkFiles, agents: Agent[]) {
    this.#lab = lab; this.#plan = plan; this.#o = observations; this.#options = options; this.#self = self; this.#work = work; this.#pki = pki; this.#files = files; this.#agents = agents;
  }

  get #signal(): AbortSignal { return this.#options.signal; }

  async run(): Promise<void> {
    const plan = this.#plan;
    const setup: SetupRecord = { startedAt: Date.now(), boundMs: 0 };
    this.#o.setup = setup;
    // Everything starts at once; the setup below waits for the LB hosts to settle, then for the endpoint to answer.
    for (const node of plan.nodes) this.#startNode(node);
    for (const host of plan.lbHosts) await this.#startLbHost(host);
    await this.#waitFor(() => [...this.#nodeAgents.values()].every((a) => a.proc.lines.some((l) => l.json?.kind === 'listening')), 20_000, 'the stand-in nodes to listen');
    this.#options.progress(`nodes listening; engines started on ${plan.lbHosts.map((h) => `${h.name} (${h.engines.join(' + ')})`).join(', ')}`);
    // LB hosts started at the same instant elect a holder, and the first election can hand the VIP over once (a
    // host whose check has not passed yet is in FAULT, a lower one takes the VIP, the higher one takes it back
    // when its check rises). That is the lab's doing — a real pair seldom starts together — so the client starts
    // once they have settled, and every stream it opens goes through the host that keeps the VIP. A pair that
    // does not settle in time is the configuration's: the client starts anyway and the baseline shows it.
    const t = plan.timing;
    setup.boundMs = Math.min(30_000, Math.max(plan.mode === 'serve' ? 20_000 : 12_000, 2 * (t.nodeDetectMs + t.nodeRejoinMs) + t.lbEngineFailoverMs));
    if (await this.#waitFor(() => this.#lbSettled() || this.#balancersDown(), setup.boundMs, 'the LB hosts to settle', false) && this.#lbSettled()) setup.settledAt = Date.now();
    if (plan.endpoint.vip) {
      const holders = this.#holders().join(', ') || 'no host';
      this.#options.progress(setup.settledAt ? `the LB hosts settled: ${holders} holds the VIP` : `the LB hosts have not settled after ${Math.round(setup.boundMs / 1000)}s (${holders} holds the VIP); the client starts anyway`);
    }
    this.#startClient();
    setup.clientAt = Date.now();
    // Ready: requests go through and every stream is open. The balancer's checks have had the settle's time.
    const readyBound = Math.max(5000, t.nodeDetectMs + t.nodeRejoinMs + 2000);
    const ready = await this.#waitFor(() => this.#recentlyOk(5) && this.#streamsBack() && this.#openExecs.size >= (plan.endpoint.kubernetesPort ? TRAFFIC.execs : 0)
      && (!plan.endpoint.vip || this.#holders().length === 1), readyBound, 'the endpoint to answer', false);
    if (ready) setup.readyAt = Date.now();
    this.#options.progress(ready ? `the endpoint ${joinHostPort(plan.endpoint.address, plan.endpoint.kubernetesPort ?? plan.endpoint.talosPort ?? 0)} answers; the drill starts` : `the endpoint does not answer ${Math.round(readyBound / 1000)}s after the client started; the drill runs anyway`);
    this.#o.watchesOpenAt = Date.now();
    if (!ready && this.#balancersDown()) {
      // Nothing to rehearse: the baseline shows the loss and the engines' own words its cause.
      this.#options.progress(`${plan.lbHosts[0].engines.includes('serve') ? 'serve' : 'haproxy'} is not running on any LB host; the drill stops after the baseline`);
      await this.#step(plan.steps.find((s) => s.name === 'baseline') ?? { name: 'baseline', holdMs: 3000 });
      await this.#stopClient();
      return;
    }
    const idle = plan.steps.find((s) => s.name === 'idle');
    for (const step of plan.steps) {
      if (step.name === 'idle') continue;
      // The idle watches idle while the node steps run (each cuts only its own node's streams); the LB steps and
      // reload cut every stream, so the idle checkpoint comes before them.
      if (idle && ['lb-engine-crash', 'lb-host-crash', 'lb-link-cut', 'reload'].includes(step.name) && !this.#o.steps.some((s) => s.name === 'idle')) await this.#step(idle);
      await this.#step(step);
    }
    if (idle && !this.#o.steps.some((s) => s.name === 'idle')) await this.#step(idle);
    // Streams the last step cut get their chance to come back before the client stops.
    await this.#waitFor(() => this.#streamsBack(), 3000, 'the streams to come back', false);
    await this.#stopClient();
  }

  /** The client stops and reports the requests still in flight (each ends by its timeout). */
  async #stopClient(): Promise<void> {
    this.#send(this.#client, { cmd: 'stop' });
    await Promise.race([this.#client?.proc.exited, new Promise((resolve) => setTimeout(resolve, TRAFFIC.requestTimeoutMs + 1500).unref())]);
    const last = this.#o.steps.at(-1);
    if (last) last.endedAt = Math.max(last.endedAt, Date.now());
  }

  // ------------------------------------------------------------------ agents

  #spawnAgent(host: string, role: Agent['role'], config: unknown, wrap: string[] = []): Agent {
    const path = join(this.#work, `${role}-${host}.json`);
    // Written synchronously before the spawn below reads it.
    writeFileSync(path, JSON.stringify(config));
    const proc = this.#lab.spawn(host, [...wrap, ...this.#self], { env: { [AGENT_ENV]: role, [AGENT_CONFIG_ENV]: path }, group: true });
    const agent: Agent = { proc, host, role };
    this.#agents.push(agent);
    proc.onLine((line) => this.#onLine(agent, line.json, line.text, line.at));
    return agent;
  }

  #send(agent: Agent | undefined, command: AgentCommand): void {
    if (agent && agent.proc.child.exitCode === null) agent.proc.child.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  #onLine(agent: Agent, json: Record<string, unknown> | undefined, text: string, at: number): void {
    if (!json) {
      if (agent.role === 'lb') this.#o.logs.push({ host: agent.host, engine: 'agent', at, line: text });
      return;
    }
    switch (json.e) {
      case 'node': this.#o.nodes.push({ ...(json as unknown as Observations['nodes'][number]), node: agent.host }); break;
      case 'log': {
        const log = { host: agent.host, engine: String(json.engine), at: Number(json.at), line: String(json.line) };
        this.#o.logs.push(log);
        const state = vrrpStateOf(log.engine, log.line);
        if (state) this.#vrrp.set(agent.host, { state, at: log.at });
        break;
      }
      case 'exit': this.#o.exits.push({ host: agent.host, engine: String(json.engine), at: Number(json.at), code: json.code as number | null, signal: json.signal as string | null }); break;
      case 'addresses': {
        this.#addresses.set(agent.host, (json.list as string[]).map((a) => a.split('/')[0]));
        this.#o.holders.push({ at: Number(json.at), hosts: this.#holders() });
        break;
      }
      case 'unix': this.#unixAnswers.get(Number(json.id))?.(String(json.answer ?? json.error ?? '')); break;
      case 'started': this.#starts.set(`${agent.host}/${String(json.engine)}`, Number(json.at)); break;
      case 'sent': this.#pending.set(Number(json.id), Number(json.at)); break;
      case 'request': case 'stream': {
        const event = json as unknown as ClientEvent;
        if (event.e === 'request') this.#pending.delete(event.id);
        this.#o.client.push(event);
        if (event.e === 'stream') {
          const open = event.kind === 'watch' ? this.#openWatches : this.#openExecs;
          if (event.event === 'open') open.add(event.id);
          else open.delete(event.id);
        }
        break;
      }
      case 'error': this.#o.logs.push({ host: agent.host, engine: 'agent', at, line: String(json.message) }); break;
    }
  }

  /** The balancer (HAProxy or serve) has exited on every LB host and runs on none. */
  #balancersDown(): boolean {
    return this.#plan.lbHosts.every((h) => {
      const engine = h.engines.includes('serve') ? 'serve' : 'haproxy';
      return this.#o.exits.some((e) => e.host === h.name && e.engine === engine) && !this.#running(h.name, engine);
    });
  }

  /** Whether an engine runs on a host now (its last start is later than its last exit). */
  #running(host: string, engine: string): boolean {
    const lastExit = this.#o.exits.filter((e) => e.host === host && e.engine === engine).at(-1)?.at ?? 0;
    return (this.#starts.get(`${host}/${engine}`) ?? 0) > lastExit;
  }

  /**
   * The LB hosts have settled: one holds the VIP and no other will take it — it has the highest priority and
   * every other host is BACKUP, or no host has changed state for as long as a takeover can take (a BACKUP with
   * a higher priority takes over a master-down interval after it became BACKUP; a host whose check rises
   * becomes BACKUP first).
   */
  #lbSettled(): boolean {
    const plan = this.#plan;
    if (!plan.endpoint.vip) return true;
    const holders = this.#holders();
    if (holders.length !== 1) return false;
    const speakers = plan.lbHosts.filter((h) => h.engines.includes('keepalived') || h.engines.includes('serve'));
    const top = [...speakers].sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))[0];
    if (holders[0] === top?.name && speakers.every((h) => h === top || this.#vrrp.get(h.name)?.state === 'backup')) return true;
    const lastChange = Math.max(this.#o.holders.at(-1)?.at ?? 0, ...speakers.map((h) => this.#vrrp.get(h.name)?.at ?? 0));
    return Date.now() - lastChange >= plan.timing.lbEngineFailoverMs;
  }

  #holders(): string[] {
    const vip = this.#plan.endpoint.vip ? this.#plan.endpoint.address : undefined;
    if (!vip) return [];
    return [...this.#addresses].filter(([, list]) => list.includes(vip)).map(([host]) => host).sort();
  }

  #startNode(node: PlannedNode): void {
    const certs = this.#pki.nodes.get(node.name)!;
    const config: NodeAgentConfig = {
      name: node.name,
      ...(node.kubernetesPort ? { kubernetesPort: node.kubernetesPort } : {}),
      ...(node.talosPort ? { talosPort: node.talosPort } : {}),
      kubernetes: { ...certs.kubernetes, clientCa: this.#pki.kubernetesCa },
      talos: { ...certs.talos, clientCa: this.#pki.talosCa },
      anonymousAuth: this.#plan.apiserver.anonymousAuth,
      shutdownDelayMs: this.#plan.apiserver.shutdownDelayMs,
    };
    this.#nodeAgents.set(node.name, this.#spawnAgent(node.name, 'node', config));
  }

  async #startLbHost(host: PlannedLbHost): Promise<void> {
    const dir = join(this.#work, host.name);
    await mkdir(dir, { mode: 0o755 });
    const engines: LbAgentConfig['engines'] = {};
    for (const engine of host.engines) {
      if (engine === 'haproxy' && host.haproxy) {
        const path = join(dir, 'haproxy.cfg');
        await writeFile(path, substitute(host.haproxy.text, this.#work, this.#files));
        // As Debian's unit runs it: master-worker, the pid file in /run, SIGUSR2 reloads.
        engines.haproxy = { argv: ['haproxy', '-Ws', '-f', path, '-p', '/run/haproxy.pid'], reloadSignal: 'SIGUSR2' };
      } else if (engine === 'keepalived' && host.keepalived) {
        const path = join(dir, 'keepalived.conf');
        await writeFile(path, substitute(host.keepalived.text, this.#work, this.#files));
        engines.keepalived = { argv: ['keepalived', '--dont-fork', '--log-console', '--log-detail', '-f', path], reloadSignal: 'SIGHUP' };
      } else if (engine === 'serve' && this.#plan.serveSpec) {
        const path = join(dir, 'endpoint.yaml');
        await writeFile(path, substitute(this.#plan.serveSpec.text, this.#work, this.#files));
        engines.serve = { argv: [...this.#self, 'serve', '-c', path, ...(this.#plan.lbHosts.length > 1 || this.#plan.endpoint.vip ? ['--peer', host.name] : []), '--no-watch'], reloadSignal: 'SIGHUP' };
      }
    }
    const config: LbAgentConfig = { engines, runDirs: ['/run/haproxy'] };
    // PID 1 of the host's own PID namespace; --kill-child ends it (and so the namespace) if unshare dies.
    this.#lbAgents.set(host.name, this.#spawnAgent(host.name, 'lb', config, ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child']));
  }

  #startClient(): void {
    const plan = this.#plan;
    const config: ClientAgentConfig = {
      endpoint: plan.endpoint.address,
      ...(plan.endpoint.kubernetesPort ? { kubernetes: { port: plan.endpoint.kubernetesPort, ca: this.#pki.kubernetesCa, ...this.#pki.admin } } : {}),
      ...(plan.endpoint.talosPort && plan.nodes.some((n) => n.talosPort) ? { talos: { port: plan.endpoint.talosPort, ca: this.#pki.talosCa, ...this.#pki.talosctl } } : {}),
      requestsPerSecond: TRAFFIC.requestsPerSecond, talosPerSecond: TRAFFIC.talosPerSecond,
      watches: plan.endpoint.kubernetesPort ? TRAFFIC.watches : 0, execs: plan.endpoint.kubernetesPort ? TRAFFIC.execs : 0,
      requestTimeoutMs: TRAFFIC.requestTimeoutMs,
    };
    this.#client = this.#spawnAgent('client', 'client', config);
  }

  // ------------------------------------------------------------------ waiting

  async #waitFor(condition: () => boolean, timeoutMs: number, what: string, required = true): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) {
        if (required) throw new UserError('REHEARSE', `the lab did not come up: no ${what} within ${Math.round(timeoutMs / 1000)}s`, { hint: this.#lastWords(), exitCode: EXIT.invalid });
        return false;
      }
      await sleep(50, this.#signal);
    }
    return true;
  }

  #lastWords(): string {
    const lines = [...this.#o.logs.slice(-8).map((l) => `${l.host} ${l.engine}: ${l.line}`), ...this.#agents.flatMap((a) => a.proc.lines.filter((l) => !l.json).slice(-3).map((l) => `${a.host}: ${l.text}`))];
    return lines.length ? `what the lab said last:\n    ${lines.join('\n    ')}` : 'run again with the same files; if it persists, report it';
  }

  /** The last n kube requests all succeeded. */
  #recentlyOk(n: number): boolean {
    const requests = this.#o.client.filter((e) => e.e === 'request' && e.api === 'kubernetes').slice(-n);
    if (!this.#plan.endpoint.kubernetesPort) return this.#o.client.filter((e) => e.e === 'request').slice(-n).every((e) => e.e === 'request' && e.ok);
    return requests.length === n && requests.every((e) => e.e === 'request' && e.ok);
  }

  /** The node answered a request through the endpoint after `since`. */
  #answeredBy(node: string, since: number): boolean {
    return this.#o.client.some((e) => e.e === 'request' && e.ok && e.node === node && e.at >= since);
  }

  // ------------------------------------------------------------------ steps

  /**
   * Before a step disturbs anything, the requests of the step before have ended, so every request's outcome
   * belongs to the step it was sent in. Healthy requests end in milliseconds; a broken endpoint's by their timeout.
   */
  async #quiet(): Promise<void> {
    await this.#waitFor(() => ![...this.#pending.values()].some((at) => Date.now() - at > 300), TRAFFIC.requestTimeoutMs + 1000, 'requests to end', false);
  }

  async #step(step: PlannedStep): Promise<void> {
    abortable(this.#signal);
    if (step.name !== 'baseline' && step.name !== 'idle') await this.#quiet();
    const record: StepRecord = { name: step.name, ...(step.target ? { target: step.target } : {}), startedAt: Date.now(), endedAt: 0, actions: [] };
    const previous = this.#o.steps.at(-1);
    if (previous) previous.endedAt = record.startedAt;
    this.#o.steps.push(record);
    this.#options.progress(`step ${step.name}${step.target ? ` (${step.target})` : ''}`);
    const say = (action: string) => record.actions.push(action);
    const hold = () => sleep(step.holdMs, this.#signal);
    try {
      switch (step.name) {
        case 'baseline': await hold(); break;
        case 'idle': await this.#idle(step, say); break;
        case 'node-reboot': await this.#nodeReboot(step.target!, record, say, hold); break;
        case 'node-crash': {
          const node = this.#node(step.target!);
          record.disturbedAt = Date.now();
          this.#send(this.#nodeAgents.get(node.name), { cmd: 'halt' });
          await this.#lab.setLink(node.name, node.segment, false);
          say(`${node.name} powered off: kube-apiserver and apid gone, its link down`);
          await hold();
          record.restoredAt = Date.now();
          await this.#lab.setLink(node.name, node.segment, true);
          this.#send(this.#nodeAgents.get(node.name), { cmd: 'start' });
          say(`${node.name} back up`);
          await this.#rejoin(node.name, record.restoredAt, say);
          break;
        }
        case 'node-blackhole': {
          const node = this.#node(step.target!);
          record.disturbedAt = Date.now();
          await this.#lab.setLink(node.name, node.segment, false);
          say(`${node.name}'s packets dropped (its processes keep running)`);
          await hold();
          record.restoredAt = Date.now();
          await this.#lab.setLink(node.name, node.segment, true);
          say(`${node.name} reachable again`);
          await this.#rejoin(node.name, record.restoredAt, say);
          break;
        }
        case 'api-unready': {
          const node = this.#node(step.target!);
          record.disturbedAt = Date.now();
          this.#send(this.#nodeAgents.get(node.name), { cmd: 'unready' });
          say(`${node.name}'s kube-apiserver unready (etcd unreachable): /readyz fails, requests get 500, port 6443 open`);
          await hold();
          record.restoredAt = Date.now();
          this.#send(this.#nodeAgents.get(node.name), { cmd: 'ready' });
          say(`${node.name} ready again`);
          await this.#rejoin(node.name, record.restoredAt, say);
          break;
        }
        case 'lb-engine-crash': case 'lb-host-crash': case 'lb-link-cut': await this.#lbStep(step, record, say, hold); break;
        case 'reload': {
          for (const host of this.#plan.lbHosts) {
            for (const engine of host.engines) this.#send(this.#lbAgents.get(host.name), { cmd: 'engine-reload', engine });
            say(`${host.name}: ${host.engines.map((e) => `${e} reloaded (${e === 'haproxy' ? 'SIGUSR2' : 'SIGHUP'})`).join(', ')}`);
          }
          record.disturbedAt = Date.now();
          await hold();
          break;
        }
      }
    } finally {
      record.endedAt = Date.now();
    }
  }

  #node(name: string): PlannedNode {
    return this.#plan.nodes.find((n) => n.name === name)!;
  }

  /** The idle checkpoint: watches have idled since the drill started; wait until one has idled long enough. */
  async #idle(step: PlannedStep, say: (action: string) => void): Promise<void> {
    const target = step.holdMs;
    const longestIdle = () => {
      const now = Date.now();
      const opened = new Map<number, number>();
      for (const e of this.#o.client) if (e.e === 'stream' && e.kind === 'watch' && e.event === 'open') opened.set(e.id, e.at);
      return Math.max(0, ...[...this.#openWatches].map((id) => now - (opened.get(id) ?? now)));
    };
    const idleCut = () => this.#o.client.some((e) => e.e === 'stream' && e.kind === 'watch' && e.event === 'cut' && e.idleMs >= Math.min(target, 5000) - 1000);
    say(`watch streams idle since the drill started; waiting until one has idled ${Math.round(target / 1000)}s`);
    await this.#waitFor(() => longestIdle() >= target || idleCut(), target + 5000, 'idle watch', false);
  }

  async #nodeReboot(name: string, record: StepRecord, say: (action: string) => void, hold: () => Promise<void>): Promise<void> {
    const node = this.#node(name);
    const drained = await this.#drain(node, true);
    say(drained ? `${name} drained on every LB host (${drained})` : `${name} not drained: no way to drain it (${this.#plan.mode === 'files' ? 'the haproxy.cfg has no stats socket at level admin' : 'the admin API did not answer'})`);
    if (drained) await sleep(1000, this.#signal);
    record.disturbedAt = Date.now();
    const agent = this.#nodeAgents.get(name);
    this.#send(agent, { cmd: 'shutdown' });
    say(`${name} rebooting: kube-apiserver shuts down gracefully (/readyz fails, ${Math.round(this.#plan.apiserver.shutdownDelayMs / 1000)}s shutdown delay, then its listeners close)`);
    await this.#waitFor(() => this.#o.nodes.some((e) => e.node === name && e.kind === 'stopped' && e.at >= record.disturbedAt!), this.#plan.apiserver.shutdownDelayMs + 10_000, `${name} to stop`, false);
    await hold();
    record.restoredAt = Date.now();
    this.#send(agent, { cmd: 'start' });
    say(`${name} back up`);
    if (drained) {
      await this.#rejoinChecks(name);
      await this.#drain(node, false);
      say(`${name} returned to service`);
    }
    await this.#rejoin(name, record.restoredAt, say);
  }

  /** Waits until the node's checks can have passed again (the balancer would mark it up by now). */
  async #rejoinChecks(name: string): Promise<void> {
    void name;
    await sleep(Math.min(this.#plan.timing.nodeRejoinMs, 15_000), this.#signal);
  }

  /** Drains (or returns) a node on every LB host the way the docs say: HAProxy's runtime API, serve's admin API. */
  async #drain(node: PlannedNode, drain: boolean): Promise<string | undefined> {
    const done: string[] = [];
    for (const host of this.#plan.lbHosts) {
      if (host.engines.includes('serve') && this.#plan.serveAdmin) {
        // What `cluster-endpoint drain NODE` sends, from the LB host itself (the admin API is on its loopback).
        const admin = this.#plan.serveAdmin;
        const body = JSON.stringify({ adminState: drain ? 'drain' : 'ready' });
        const answer = await this.#request(host.name, { cmd: 'http', id: 0, method: 'PUT', url: `${admin.url}/api/nodes/${encodeURIComponent(node.name)}/admin-state`, headers: { 'content-type': 'application/json', accept: 'application/json', ...(admin.token ? { authorization: `Bearer ${admin.token}` } : {}) }, body });
        if (answer?.startsWith('200')) done.push(`cluster-endpoint ${drain ? 'drain' : 'undrain'} ${node.name} on ${host.name}`);
      } else if (host.haproxy) {
        const socket = adminSocket(host.haproxy.text);
        if (!socket) continue;
        for (const server of serversAt(host.haproxy.text, node.address)) {
          const answer = await this.#unix(host.name, socket, `set server ${server} state ${drain ? 'drain' : 'ready'}`);
          if (answer !== undefined && !/unknown|not found|no such/i.test(answer)) done.push(`set server ${server} state ${drain ? 'drain' : 'ready'}`);
        }
      }
    }
    return done.length ? [...new Set(done)].join(', ') : undefined;
  }

  #unix(host: string, path: string, text: string): Promise<string | undefined> {
    return this.#request(host, { cmd: 'unix', id: 0, path, text });
  }

  /** A command an LB host's agent answers (a UNIX socket or an HTTP request on that host). */
  #request(host: string, command: Extract<AgentCommand, { cmd: 'unix' | 'http' }>): Promise<string | undefined> {
    const id = ++this.#unixId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#unixAnswers.delete(id); resolve(undefined); }, 4000);
      this.#unixAnswers.set(id, (answer) => { clearTimeout(timer); this.#unixAnswers.delete(id); resolve(answer); });
      this.#send(this.#lbAgents.get(host), { ...command, id });
    });
  }

  /** Every watch is open again (the streams a step cut have come back, or at least tried to). */
  #streamsBack(): boolean {
    return !this.#plan.endpoint.kubernetesPort || this.#openWatches.size >= TRAFFIC.watches;
  }

  /** Until the node answers through the endpoint again and the cut streams are back (bounded by the checks' rise time). */
  async #rejoin(name: string, since: number, say: (action: string) => void): Promise<void> {
    const back = await this.#waitFor(() => this.#answeredBy(name, since) && this.#streamsBack(), this.#plan.timing.nodeRejoinMs + 3000, `${name} back in service`, false);
    say(back ? `${name} answers through the endpoint again` : `${name} did not answer through the endpoint within ${Math.round((this.#plan.timing.nodeRejoinMs + 3000) / 1000)}s`);
  }

  async #lbStep(step: PlannedStep, record: StepRecord, say: (action: string) => void, hold: () => Promise<void>): Promise<void> {
    const plan = this.#plan;
    const holders = this.#holders();
    const name = holders[0] ?? plan.lbHosts[0].name;
    const host = plan.lbHosts.find((h) => h.name === name)!;
    record.target = name;
    const agent = this.#lbAgents.get(name);
    const link = host.links[0];
    const balancer: EngineName = host.engines.includes('serve') ? 'serve' : 'haproxy';
    record.disturbedAt = Date.now();
    if (step.name === 'lb-engine-crash') {
      this.#send(agent, { cmd: 'engine-crash', engine: balancer });
      say(`${balancer} killed (SIGKILL) on ${name}, which holds the VIP${holders.length > 1 ? ` (with ${holders.slice(1).join(', ')})` : ''}; the host and its other processes stay up`);
    } else if (step.name === 'lb-host-crash') {
      this.#send(agent, { cmd: 'crash-all' });
      await this.#lab.setLink(name, link.segment, false);
      say(`${name} (VIP holder) crashed: every process gone, its link down`);
    } else {
      await this.#lab.setLink(name, link.segment, false);
      say(`${name}'s link (${link.name}) cut; its processes keep running`);
    }
    await hold();
    record.restoredAt = Date.now();
    if (step.name === 'lb-engine-crash') {
      this.#send(agent, { cmd: 'engine-start', engine: balancer });
      say(`${balancer} started again on ${name}`);
    } else if (step.name === 'lb-host-crash') {
      // A host that boots has no VIP on its interface until keepalived (or serve) puts it there.
      if (plan.endpoint.vip) await this.#lab.exec(name, ['ip', 'addr', 'del', `${plan.endpoint.address}/${prefixOf(plan, link.segment)}`, 'dev', link.name]).catch(() => undefined);
      await this.#lab.setLink(name, link.segment, true);
      for (const engine of host.engines) this.#send(agent, { cmd: 'engine-start', engine });
      say(`${name} booted: link up, ${host.engines.join(' and ')} started`);
    } else {
      await this.#lab.setLink(name, link.segment, true);
      say(`${name}'s link restored`);
    }
    // Settled: the restarted host has made up its mind — the host with the highest priority takes the VIP back
    // (after its checks rise and its peers' adverts say so), another stays BACKUP — one host holds the VIP and has
    // for a second, and requests and streams go through.
    const top = [...plan.lbHosts].sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0))[0];
    const preempts = plan.endpoint.vip && top.name === name && !/^\s*nopreempt\b/m.test(host.keepalived?.text ?? '') && !/preempt:\s*false/.test(plan.serveSpec?.text ?? '');
    const bound = plan.timing.lbEngineFailoverMs + plan.timing.nodeRejoinMs + 5000;
    const restartedAt = Date.now();
    const settled = await this.#waitFor(() => {
      const holders = this.#holders();
      const lastChange = this.#o.holders.at(-1)?.at ?? 0;
      const decided = step.name === 'lb-engine-crash' || !plan.endpoint.vip || (preempts ? holders.includes(name) : Date.now() - restartedAt >= plan.timing.lbFailoverMs);
      return decided && holders.length <= 1 && Date.now() - lastChange >= 1000 && this.#recentlyOk(3) && this.#streamsBack();
    }, bound, 'the LB hosts to settle', false);
    say(settled ? `settled: ${this.#holders().join(', ') || 'no host'} holds the VIP` : `not settled after ${Math.round(bound / 1000)}s: ${this.#holders().join(', ') || 'no host'} holds the VIP`);
  }
}

/** The VRRP state an engine's log line announces: keepalived's "Entering MASTER STATE", serve's "vip transition". */
export function vrrpStateOf(engine: string, line: string): string | undefined {
  if (engine === 'keepalived') return /\bEntering (MASTER|BACKUP|FAULT) STATE\b/.exec(line)?.[1].toLowerCase();
  if (engine !== 'serve' || !line.includes('vip transition')) return undefined;
  try {
    const entry = JSON.parse(line) as { msg?: unknown; to?: unknown };
    return entry.msg === 'vip transition' && typeof entry.to === 'string' ? entry.to : undefined;
  } catch {
    return undefined;
  }
}

/** The HAProxy runtime API socket at level admin, if the file has one (`stats socket PATH ... level admin`). */
export function adminSocket(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const words = line.replace(/#.*$/, '').trim().split(/\s+/);
    if (words[0] === 'stats' && words[1] === 'socket' && words.includes('admin') && words[2]?.startsWith('/')) return words[2];
  }
  return undefined;
}

/** backend/server names of the server lines pointing at an address (any port). */
export function serversAt(text: string, address: string): string[] {
  const out: string[] = [];
  let section = '';
  for (const line of text.split('\n')) {
    const words = line.replace(/#.*$/, '').trim().split(/\s+/);
    if (['backend', 'listen', 'frontend', 'defaults', 'global'].includes(words[0])) section = words[1] ?? '';
    if (words[0] === 'server' && words[2]?.replace(/:\d+$/, '') === address) out.push(`${section}/${words[1]}`);
  }
  return out;
}

