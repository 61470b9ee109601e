// The two engines the kernel data plane drives: nft (the table, its counters) and conntrack (flows).
// Each call is one exec; state is read back through the machine interfaces (nft -j, conntrack's
// key=value lines), never through human text.
import { spawn } from 'node:child_process';
import { UserError } from '../../errors.js';
import { FAMILY, MARK_MASK, MARK_PREFIX, OPEN_MARK_MASK, SERVER_MARK_MASK, TABLE } from './ruleset.js';

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
  /** TCP state: ESTABLISHED, TIME_WAIT, … */
  state: string;
}

/** States of a flow that is over but not yet forgotten: not counted as open. */
const CLOSED = new Set(['TIME_WAIT', 'CLOSE']);

/** Open flows per conntrack mark: ours, no FIN or RST seen (filtered by the kernel on the mark). */
export async function openFlowsByMark(): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const family of ['ipv4', 'ipv6']) {
    const result = await run('conntrack', ['-L', '-f', family, '-p', 'tcp', '-m', `${MARK_PREFIX}/${OPEN_MARK_MASK}`]);
    if (result.code !== 0) throw conntrackError(result.stderr, 'listing flows');
    for (const flow of parseFlows(result.stdout)) {
      if (CLOSED.has(flow.state)) continue;
      counts.set(flow.mark, (counts.get(flow.mark) ?? 0) + 1);
    }
  }
  return counts;
}

export function parseFlows(text: string): Flow[] {
  const flows: Flow[] = [];
  for (const line of text.split('\n')) {
    const mark = /\bmark=(\d+)/.exec(line);
    if (!mark) continue;
    // "tcp  6 431999 ESTABLISHED src=…": the state is the first all-capitals word before the tuples.
    const state = /^\S+\s+\d+\s+\d+\s+([A-Z_]+)\s/.exec(line)?.[1] ?? 'UNKNOWN';
    flows.push({ mark: Number(mark[1]), state });
  }
  return flows;
}

/** Deletes every flow with `mark` (or with any of our marks when mark is undefined); returns how many. */
export async function deleteFlows(mark?: number): Promise<number> {
  let deleted = 0;
  for (const family of ['ipv4', 'ipv6']) {
    const result = await run('conntrack', ['-D', '-f', family, '-m', mark === undefined ? `${MARK_PREFIX}/${MARK_MASK}` : `${mark}/${SERVER_MARK_MASK}`]);
    // conntrack exits 1 when nothing matched; the count line says how many went.
    const count = /(\d+) flow entries have been deleted/.exec(result.stderr);
    if (count) deleted += Number(count[1]);
    else if (result.code !== 0 && !/0 flow entries/.test(result.stderr)) throw conntrackError(result.stderr, 'deleting flows');
  }
  return deleted;
}

function conntrackError(stderr: string, doing: string): UserError {
  if (/Operation not permitted|Permission denied/i.test(stderr)) {
    return new UserError('KERNEL', `conntrack refused ${doing}: balancer.mode: kernel needs root or CAP_NET_ADMIN`, { hint: 'run serve as root, or give it CAP_NET_ADMIN', exitCode: 2 });
  }
  return new UserError('KERNEL', `conntrack failed ${doing}: ${stderr.trim().split('\n')[0] || 'no message'}`);
}
