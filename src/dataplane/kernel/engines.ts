// The two engines the kernel data plane drives: nft (the table, its counters) and conntrack (flows).
// Each call is one exec; state is read back through the machine interfaces (nft -j, conntrack's
// key=value lines), never through human text.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { UserError } from '../../errors.js';
import { FAMILY, LIVE_MARK_MASK, MARK_ANSWERED, MARK_MASK, MARK_PREFIX, renderRuleset, SERVER_MARK_MASK, TABLE, UNANSWERED_MARK_MASK, type KernelPlan } from './ruleset.js';

const TIMEOUT_MS = 10_000;

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a program with optional stdin; a missing program is a UserError that names its package. */
export function run(program: string, args: readonly string[], input?: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: TIMEOUT_MS });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', (error: NodeJS.ErrnoException) => reject(error.code === 'ENOENT' ? missing(program) : error));
    child.once('close', (code) => resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? 1 }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

function missing(program: string): UserError {
  const pkg = program === 'nft' ? 'nftables' : program === 'conntrack' ? 'conntrack' : program;
  return new UserError('KERNEL', `balancer.mode: kernel needs \`${program}\`, which is not installed`, { hint: `install it (Debian/Ubuntu: apt-get install ${pkg}), or use balancer.mode: proxy`, exitCode: 2 });
}

/** What nft says about our table: its chains, and its named counters with their values. */
export interface TableState {
  chains: string[];
  counters: Map<string, { packets: number; bytes: number }>;
  /** Per listener chain: the server chains its maps jump to (the membership the table carries). */
  members: Map<string, string[]>;
}

interface NftJson { nftables: Array<Record<string, { name?: string; table?: string; family?: string; chain?: string; packets?: number; bytes?: number; expr?: unknown[] }>> }

/** Our table, or undefined when there is none. */
export async function readTable(): Promise<TableState | undefined> {
  const result = await run('nft', ['-j', 'list', 'table', FAMILY, TABLE]);
  if (result.code !== 0) {
    if (/No such file or directory/.test(result.stderr)) return undefined;
    throw nftError(result.stderr, 'reading the table');
  }
  const state: TableState = { chains: [], counters: new Map(), members: new Map() };
  for (const item of (JSON.parse(result.stdout) as NftJson).nftables) {
    if (item.chain?.name && item.chain.table === TABLE) state.chains.push(item.chain.name);
    if (item.counter?.name && item.counter.table === TABLE) state.counters.set(item.counter.name, { packets: item.counter.packets ?? 0, bytes: item.counter.bytes ?? 0 });
    const rule = item.rule;
    if (rule?.chain?.startsWith('l_') && rule.table === TABLE) {
      const jumps = JSON.stringify(rule.expr ?? []).match(/"jump":\{"target":"s_[0-9a-f]{6}"\}/g) ?? [];
      const targets = jumps.map((j) => /s_[0-9a-f]{6}/.exec(j)![0]);
      state.members.set(rule.chain, [...new Set([...(state.members.get(rule.chain) ?? []), ...targets])]);
    }
  }
  return state;
}

/** Applies a ruleset in one transaction (nft -f -): all of it, or nothing. */
export async function applyRuleset(text: string): Promise<void> {
  const result = await run('nft', ['-f', '-'], text);
  if (result.code !== 0) throw nftError(result.stderr, 'applying the table');
}

export async function deleteTable(): Promise<boolean> {
  const result = await run('nft', ['delete', 'table', FAMILY, TABLE]);
  if (result.code === 0) return true;
  if (/No such file or directory/.test(result.stderr)) return false;
  throw nftError(result.stderr, 'deleting the table');
}

function nftError(stderr: string, doing: string): UserError {
  if (/Operation not permitted|Permission denied/i.test(stderr)) {
    return new UserError('KERNEL', `nft refused ${doing}: balancer.mode: kernel needs root or CAP_NET_ADMIN`, { hint: 'run serve as root, or give it CAP_NET_ADMIN (the unit `render builtin` writes does)', exitCode: 2 });
  }
  const first = stderr.trim().split('\n').slice(0, 3).join(' / ');
  return new UserError('KERNEL', `nft failed ${doing}: ${first || 'no message'}`, { hint: 'the previous table stays in place; see the message above (a kernel without nf_tables NAT?)' });
}

/** A flow we forwarded, as conntrack lists it. */
export interface Flow {
  mark: number;
  /** TCP state: ESTABLISHED, SYN_SENT, TIME_WAIT, … */
  state: string;
  /** conntrack's id of the entry and the client's address and port: one connection attempt. */
  key: string;
}

/** States of a flow that is over but not yet forgotten: not counted as open. */
const CLOSED = new Set(['TIME_WAIT', 'CLOSE']);

/** What one read of our flows finds: open flows per server mark, and the flows no server has answered yet. */
export interface FlowRead {
  /** Answered, not closing: per server mark (markOf(id)). */
  open: Map<number, number>;
  /** Not answered yet (a SYN in flight, or a server that does not answer): server mark and key of each. */
  unanswered: Array<{ mark: number; key: string }>;
}

/**
 * Our flows that are not closing (filtered by the kernel on the mark): the open ones counted per server, the
 * unanswered ones listed (few, unless a server does not answer).
 */
export async function readFlows(): Promise<FlowRead> {
  const read: FlowRead = { open: new Map(), unanswered: [] };
  for (const family of ['ipv4', 'ipv6']) {
    const result = await run('conntrack', ['-L', '-f', family, '-p', 'tcp', '-o', 'id', '-m', `${MARK_PREFIX}/${LIVE_MARK_MASK}`]);
    if (result.code !== 0) throw conntrackError(result.stderr, 'listing flows');
    for (const flow of parseFlows(result.stdout)) {
      const server = (flow.mark & SERVER_MARK_MASK) >>> 0;
      if ((flow.mark & MARK_ANSWERED) === 0) read.unanswered.push({ mark: server, key: flow.key });
      else if (!CLOSED.has(flow.state)) read.open.set(server, (read.open.get(server) ?? 0) + 1);
    }
  }
  return read;
}

export function parseFlows(text: string): Flow[] {
  const flows: Flow[] = [];
  for (const line of text.split('\n')) {
    const mark = /\bmark=(\d+)/.exec(line);
    if (!mark) continue;
    // "tcp  6 431999 ESTABLISHED src=…": the state is the first all-capitals word before the tuples.
    const state = /^(?:\[[A-Z]+\]\s+)?\S+\s+\d+\s+(?:\d+\s+)?([A-Z_]+)\s/.exec(line.trim())?.[1] ?? 'UNKNOWN';
    const src = /\bsrc=(\S+)/.exec(line)?.[1] ?? '';
    const sport = /\bsport=(\d+)/.exec(line)?.[1] ?? '';
    const id = /\bid=(\d+)/.exec(line)?.[1] ?? '';
    flows.push({ mark: Number(mark[1]), state, key: `${id}/${src}/${sport}` });
  }
  return flows;
}

/**
 * Deletes our flows: every one (mark undefined), a server's (its mark), or only a server's unanswered ones
 * (their SYN retransmissions are then balanced again). Returns how many went.
 */
export async function deleteFlows(mark?: number, options: { unansweredOnly?: boolean } = {}): Promise<number> {
  const filter = mark === undefined ? `${MARK_PREFIX}/${MARK_MASK}` : `${mark}/${options.unansweredOnly ? (SERVER_MARK_MASK | MARK_ANSWERED) >>> 0 : SERVER_MARK_MASK}`;
  // Both families at once: the clients' retransmissions wait for this.
  const counts = await Promise.all(['ipv4', 'ipv6'].map(async (family) => {
    const result = await run('conntrack', ['-D', '-f', family, '-m', filter]);
    // conntrack exits 1 when nothing matched; the count line says how many went.
    const count = /(\d+) flow entries have been deleted/.exec(result.stderr);
    if (count) return Number(count[1]);
    if (result.code !== 0 && !/0 flow entries/.test(result.stderr)) throw conntrackError(result.stderr, 'deleting flows');
    return 0;
  }));
  return counts[0] + counts[1];
}

/** What the refusal watcher reports. */
export interface RefusalEvents {
  /** A server reset a flow it never answered (its port is closed); mark is the server's (markOf(id)). */
  refused(mark: number): void;
  /** The watcher stopped unexpectedly (it is restarted); for the log. */
  failed(message: string): void;
}

const WATCH_BACKOFF_MS = { first: 100, max: 10_000, healthyAfter: 10_000 };
/** The event socket's buffer: room for a burst of flows ending at once (conntrack drops events beyond it). */
const EVENT_BUFFER_BYTES = 4 << 20;

/**
 * Follows conntrack's destroy events of our unanswered flows (`conntrack -E -e DESTROY`): the kernel deletes a
 * flow whose only answer was a reset at once, so each such event is a refused connection, seen within a
 * millisecond. Only destroy events are subscribed to (one per flow, built by the kernel); conntrack drops the
 * ones without our unanswered mark before they reach us. The child dies with serve (setpriv --pdeathsig) and is
 * restarted with back-off when it exits (conntrack -E exits when its socket overflows).
 */
export function watchRefusals(events: RefusalEvents): { stop(): void } {
  let child: ChildProcess | undefined;
  let stopped = false;
  let backoffMs = WATCH_BACKOFF_MS.first;
  let timer: NodeJS.Timeout | undefined;
  const start = () => {
    const startedAt = Date.now();
    const args = ['--pdeathsig', 'KILL', 'conntrack', '-E', '-e', 'DESTROY', '-p', 'tcp', '-b', String(EVENT_BUFFER_BYTES), '-m', `${MARK_PREFIX}/${UNANSWERED_MARK_MASK}`];
    const proc = spawn('setpriv', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-1000); });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      // A flow the kernel deleted for a reset is in CLOSE; one deleted by an operator or by us, or expired, is not.
      const [flow] = parseFlows(line);
      if (flow?.state === 'CLOSE') events.refused((flow.mark & SERVER_MARK_MASK) >>> 0);
    });
    proc.once('error', (error) => events.failed(error.message));
    proc.once('exit', (code, signal) => {
      if (stopped) return;
      if (Date.now() - startedAt > WATCH_BACKOFF_MS.healthyAfter) backoffMs = WATCH_BACKOFF_MS.first;
      const why = stderr.trim().split('\n').filter((l) => !/^NOTICE|flow events have been shown/.test(l)).slice(0, 2).join(' / ');
      events.failed(`conntrack -E exited (${signal ?? `code ${code}`}${why ? `: ${why}` : ''}); restarting in ${backoffMs} ms`);
      timer = setTimeout(start, backoffMs);
      timer.unref();
      backoffMs = Math.min(WATCH_BACKOFF_MS.max, backoffMs * 2);
    });
  };
  start();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      child?.kill('SIGTERM');
    },
  };
}

function conntrackError(stderr: string, doing: string): UserError {
  if (/Operation not permitted|Permission denied/i.test(stderr)) {
    return new UserError('KERNEL', `conntrack refused ${doing}: balancer.mode: kernel needs root or CAP_NET_ADMIN`, { hint: 'run serve as root, or give it CAP_NET_ADMIN', exitCode: 2 });
  }
  return new UserError('KERNEL', `conntrack failed ${doing}: ${stderr.trim().split('\n')[0] || 'no message'}`);
}

/**
 * What the kernel data plane asks of the kernel, in one place: the real engines (nft, conntrack) in serve, a fake
 * in the unit tests that decide membership → plan without root.
 */
export interface KernelEngine {
  /** Our table, or undefined when there is none. */
  readTable(): Promise<TableState | undefined>;
  /** Renders the plan and applies it in one transaction. */
  apply(plan: KernelPlan): Promise<void>;
  deleteTable(): Promise<boolean>;
  readFlows(): Promise<FlowRead>;
  deleteFlows(mark?: number, options?: { unansweredOnly?: boolean }): Promise<number>;
  watchRefusals(events: RefusalEvents): { stop(): void };
}

export const SYSTEM_ENGINE: KernelEngine = {
  readTable,
  apply: (plan) => applyRuleset(renderRuleset(plan)),
  deleteTable,
  readFlows,
  deleteFlows,
  watchRefusals,
};
