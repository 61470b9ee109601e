// The two engines the kernel data plane drives: nft (the table, its counters) and conntrack (flows).
// Each call is one exec; state is read back through the machine interfaces (nft -j, conntrack's
// key=value lines), never through human text.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { UserError } from '../../errors.js';
import { isIP } from 'node:net';
import { FAMILY, isOurTable, LIVE_MARK_MASK, MARK_ANSWERED, MARK_MASK, MARK_PREFIX, renderRuleset, SERVER_MARK_MASK, UNANSWERED_MARK_MASK, type KernelPlan, type Listen } from './ruleset.js';

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

/** What nft says about a table of ours: its chains, its named counters with their values, and what it catches. */
export interface TableState {
  chains: string[];
  counters: Map<string, { packets: number; bytes: number }>;
  /** Per listener chain: the server chains its maps jump to (the membership the table carries). */
  members: Map<string, string[]>;
  /** The addresses and ports its listeners catch (read from its dispatch rules, so a predecessor's too). */
  listens: Listen[];
}

interface NftJson { nftables: Array<Record<string, { name?: string; table?: string; family?: string; chain?: string; packets?: number; bytes?: number; expr?: unknown[] }>> }

/** One table of ours, or undefined when there is none. */
export async function readTable(table: string): Promise<TableState | undefined> {
  const result = await run('nft', ['-j', 'list', 'table', FAMILY, table]);
  if (result.code !== 0) {
    if (/No such file or directory/.test(result.stderr)) return undefined;
    throw nftError(result.stderr, `reading the table ${FAMILY} ${table}`);
  }
  const state: TableState = { chains: [], counters: new Map(), members: new Map(), listens: [] };
  for (const item of (JSON.parse(result.stdout) as NftJson).nftables) {
    if (item.chain?.name && item.chain.table === table) state.chains.push(item.chain.name);
    if (item.counter?.name && item.counter.table === table) state.counters.set(item.counter.name, { packets: item.counter.packets ?? 0, bytes: item.counter.bytes ?? 0 });
    const rule = item.rule;
    if (rule?.chain?.startsWith('l_') && rule.table === table) {
      const jumps = JSON.stringify(rule.expr ?? []).match(/"jump":\{"target":"s_[0-9a-f]{6}"\}/g) ?? [];
      const targets = jumps.map((j) => /s_[0-9a-f]{6}/.exec(j)![0]);
      state.members.set(rule.chain, [...new Set([...(state.members.get(rule.chain) ?? []), ...targets])]);
    }
    if (rule?.chain === 'nat_prerouting' && rule.table === table) {
      const listen = listenOf(rule.expr ?? []);
      if (listen) state.listens.push(listen);
    }
  }
  return state;
}

interface NftMatch { match?: { op?: string; left?: { payload?: { protocol?: string; field?: string }; fib?: unknown }; right?: unknown } }

/**
 * What a dispatch rule catches: `ip daddr 192.0.2.10 tcp dport 6443 …` (an address), or `fib daddr type local
 * ip daddr != 127.0.0.0/8 tcp dport 6443 …` (every local address of the family).
 */
export function listenOf(expr: readonly unknown[]): Listen | undefined {
  let family: 4 | 6 | undefined;
  let address: string | undefined;
  let any = false;
  let port: number | undefined;
  for (const { match } of expr as NftMatch[]) {
    if (!match?.left) continue;
    if (match.left.fib !== undefined) any = true;
    const payload = match.left.payload;
    if (payload?.field === 'daddr' && (payload.protocol === 'ip' || payload.protocol === 'ip6')) {
      family = payload.protocol === 'ip' ? 4 : 6;
      if (match.op === '==' && typeof match.right === 'string' && isIP(match.right) !== 0) address = match.right;
    }
    if (payload?.protocol === 'tcp' && payload.field === 'dport' && typeof match.right === 'number') port = match.right;
  }
  if (family === undefined || port === undefined || (!any && address === undefined)) return undefined;
  return any ? { family, port } : { family, address, port };
}

/** The tables of ours on this host (every endpoint's, and a predecessor's). */
export async function listTables(): Promise<string[]> {
  const result = await run('nft', ['-j', 'list', 'tables', FAMILY]);
  if (result.code !== 0) throw nftError(result.stderr, 'listing the tables');
  return (JSON.parse(result.stdout) as NftJson).nftables.map((item) => item.table?.name).filter((name): name is string => name !== undefined && isOurTable(name));
}

/** Applies a ruleset in one transaction (nft -f -): all of it, or nothing. */
export async function applyRuleset(text: string): Promise<void> {
  const result = await run('nft', ['-f', '-'], text);
  if (result.code !== 0) throw nftError(result.stderr, 'applying the table');
}

export async function deleteTable(table: string): Promise<boolean> {
  const result = await run('nft', ['delete', 'table', FAMILY, table]);
  if (result.code === 0) return true;
  if (/No such file or directory/.test(result.stderr)) return false;
  throw nftError(result.stderr, `deleting the table ${FAMILY} ${table}`);
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
 * Deletes a server's flows (its mark), or only its unanswered ones (their SYN retransmissions are then balanced
 * again). Returns how many went.
 */
export function deleteFlows(mark: number, options: { unansweredOnly?: boolean } = {}): Promise<number> {
  return deleteMatching(['-m', `${mark}/${options.unansweredOnly ? (SERVER_MARK_MASK | MARK_ANSWERED) >>> 0 : SERVER_MARK_MASK}`]);
}

/** Deletes the flows we forwarded to one address (the VIP of one endpoint: none of another's). Returns how many went. */
export function deleteFlowsTo(address: string): Promise<number> {
  return deleteMatching(['-d', address, '-m', `${MARK_PREFIX}/${MARK_MASK}`], isIP(address) === 6 ? ['ipv6'] : ['ipv4']);
}

async function deleteMatching(filter: readonly string[], families: readonly string[] = ['ipv4', 'ipv6']): Promise<number> {
  // Both families at once: the clients' retransmissions wait for this.
  const counts = await Promise.all(families.map(async (family) => {
    const result = await run('conntrack', ['-D', '-f', family, ...filter]);
    // conntrack exits 1 when nothing matched; the count line says how many went.
    const count = /(\d+) flow entries have been deleted/.exec(result.stderr);
    if (count) return Number(count[1]);
    if (result.code !== 0 && !/0 flow entries/.test(result.stderr)) throw conntrackError(result.stderr, 'deleting flows');
    return 0;
  }));
  return counts.reduce((sum, n) => sum + n, 0);
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
  /** A table of ours, or undefined when there is none. */
  readTable(table: string): Promise<TableState | undefined>;
  /** The tables of ours on this host. */
  listTables(): Promise<string[]>;
  /** Renders the plan and applies it in one transaction. */
  apply(plan: KernelPlan): Promise<void>;
  deleteTable(table: string): Promise<boolean>;
  /** Every flow of ours that is not closing, of any table: the caller keeps its own servers' marks. */
  readFlows(): Promise<FlowRead>;
  deleteFlows(mark: number, options?: { unansweredOnly?: boolean }): Promise<number>;
  watchRefusals(events: RefusalEvents): { stop(): void };
}

export const SYSTEM_ENGINE: KernelEngine = {
  readTable,
  listTables,
  apply: (plan) => applyRuleset(renderRuleset(plan)),
  deleteTable,
  readFlows,
  deleteFlows,
  watchRefusals,
};
