// The kernel data plane's table is a pure function of the plan: golden files (UPDATE_GOLDEN=1 rewrites),
// each also accepted by the real nft in check mode (nft -c) inside a scratch namespace, and the slot
// tables that carry weights and source hashing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { listenOf } from '../../../src/dataplane/kernel/engines.js';
import { clashOf, listensOf, markOf, renderRuleset, serverIds, slots, SOURCE_SLOTS, tableName, type KernelListener, type KernelPlan, type KernelServer } from '../../../src/dataplane/kernel/ruleset.js';
import { requireOrSkip } from '../../helpers/cli.js';
import { canUseNamespaces } from '../../helpers/lab.js';
import { hasCommand } from '../../integration/render-bare-metal/netns.js';
import { assertGoldenText, GOLDEN } from './golden.js';

const run = promisify(execFile);

const server = (id: string, address: string, weight = 1, port = 6443, listener = 'l_kubernetes'): KernelServer => ({ id, listener, address, port, weight });
const cp = [server('0a0001', '10.0.2.11'), server('0a0002', '10.0.2.12'), server('0a0003', '10.0.2.13')];

const CASES: Record<string, KernelPlan> = {
  'roundrobin-preserve': {
    table: 'cluster_endpoint_t', bind: '192.0.2.10', preserveClientIp: true,
    listeners: [{ name: 'kubernetes', port: 6443, balance: 'roundrobin', members: cp }, { name: 'talos', port: 50000, balance: 'roundrobin', members: cp.map((s) => ({ ...s, id: `${s.id.slice(0, 5)}f`, port: 50000, listener: 'l_talos' })) }],
    servers: [...cp, ...cp.map((s) => ({ ...s, id: `${s.id.slice(0, 5)}f`, port: 50000, listener: 'l_talos' }))],
  },
  'weights-snat-drained': {
    // cp-03 drained: not a member, still counted; a chain and a counter of a removed server are deleted, and so
    // is the table of an earlier version this one takes over.
    table: 'cluster_endpoint_t', replaces: ['cluster_endpoint'], bind: '0.0.0.0', preserveClientIp: false,
    listeners: [{ name: 'kubernetes', port: 6443, balance: 'roundrobin', members: [server('0a0001', '10.0.2.11', 3), server('0a0002', '10.0.2.12', 1)] }],
    servers: [server('0a0001', '10.0.2.11', 3), server('0a0002', '10.0.2.12', 1), cp[2]],
    existing: { chains: ['nat_prerouting', 's_0a0009', 'c_0a0009', 'l_kubernetes'], counters: ['s_0a0009_new', 's_0a0001_new'] },
  },
  'source-dual-stack': {
    table: 'cluster_endpoint_t', bind: '::', preserveClientIp: true,
    listeners: [{ name: 'talos-workers', port: 50001, balance: 'source', members: [server('0b0001', 'fd00::11', 1, 50000, 'l_talos_workers'), server('0b0002', '10.0.2.12', 1, 50000, 'l_talos_workers')] }],
    servers: [server('0b0001', 'fd00::11', 1, 50000, 'l_talos_workers'), server('0b0002', '10.0.2.12', 1, 50000, 'l_talos_workers')],
  },
  'stateful-failover': {
    // vip.sync: a flow hash every peer shares, flows picked up mid-stream, the source translated to the VIP.
    table: 'cluster_endpoint_t', bind: '192.0.2.10', preserveClientIp: false, snatAddress: '192.0.2.10', pickUp: true,
    listeners: [{ name: 'kubernetes', port: 6443, balance: 'flow', members: cp }],
    servers: cp,
  },
  'none-in-service': {
    table: 'cluster_endpoint_t', bind: '192.0.2.10', preserveClientIp: true,
    listeners: [{ name: 'kubernetes', port: 6443, balance: 'roundrobin', members: [] }],
    servers: cp,
  },
};

for (const [name, plan] of Object.entries(CASES)) {
  test(`kernel ruleset golden: ${name}`, () => assertGoldenText(`${name}.nft`, renderRuleset(plan)));
}

test('every golden table is accepted by the real nft (check mode, in a scratch namespace, on a host without /etc/protocols)', async (t) => {
  if (!requireOrSkip(t, (await canUseNamespaces()) && (await hasCommand('nft')) && (await hasCommand('unshare')), 'needs root, `ip netns`, unshare and nft (nftables)')) return;
  const ns = `cenftc-${process.pid}x${randomInt(36 ** 3).toString(36)}`;
  await run('ip', ['netns', 'add', ns]);
  try {
    for (const name of Object.keys(CASES)) {
      // The deletes name chains and counters that do not exist in an empty namespace: check without them.
      const text = readFileSync(join(GOLDEN, `${name}.nft`), 'utf8').split('\n').filter((l) => !l.startsWith('delete ')).join('\n');
      const path = join(GOLDEN, `.${name}.check.nft`);
      writeFileSync(path, text);
      try {
        // nft resolves protocol names through /etc/protocols, which minimal hosts and images lack (netbase).
        await run('ip', ['netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind /dev/null /etc/protocols && exec nft -c -f "$0"', path]);
      } catch (error) {
        assert.fail(`nft -c refused ${name}.nft: ${(error as { stderr?: string }).stderr ?? error}`);
      } finally {
        await run('rm', ['-f', path]);
      }
    }
    // What a table catches is read back from the real nft's JSON (so a neighbour's or a predecessor's is too).
    for (const [name, plan] of Object.entries(CASES)) {
      const text = readFileSync(join(GOLDEN, `${name}.nft`), 'utf8').split('\n').filter((l) => !l.startsWith('delete ')).join('\n');
      await new Promise<void>((resolve, reject) => {
        const child = execFile('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], (error) => (error ? reject(error) : resolve()));
        child.stdin!.end(text);
      });
      const { stdout } = await run('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'chain', 'inet', plan.table, 'nat_prerouting']);
      const rules = (JSON.parse(stdout) as { nftables: Array<{ rule?: { expr: unknown[] } }> }).nftables.flatMap((i) => (i.rule ? [i.rule.expr] : []));
      const read = rules.map((expr) => listenOf(expr)).filter((l) => l !== undefined);
      const key = (l: { family: number; address?: string; port: number }) => `${l.family}/${l.address ?? '*'}/${l.port}`;
      assert.deepEqual(new Set(read.map(key)), new Set(listensOf(plan.bind, plan.listeners.map((l) => l.port)).map(key)), name);
      await run('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', plan.table]);
    }
  } finally {
    await run('ip', ['netns', 'del', ns]);
  }
});

test('table names: one per cluster, never the table of earlier versions', () => {
  assert.equal(tableName('prod-eu-1'), 'cluster_endpoint_prod_eu_1');
  assert.notEqual(tableName('a-b'), tableName('ab'));
  assert.notEqual(tableName('x'), 'cluster_endpoint');
});

test('two tables clash when they catch one port on a shared address (an any-address bind shares every address of its family)', () => {
  const alpha = listensOf('192.0.2.10', [6443, 50000]);
  assert.equal(clashOf(alpha, listensOf('192.0.2.11', [6443])), undefined, 'another address');
  assert.equal(clashOf(alpha, listensOf('192.0.2.10', [7443])), undefined, 'another port');
  assert.deepEqual(clashOf(alpha, listensOf('192.0.2.10', [50000])), { family: 4, address: '192.0.2.10', port: 50000 });
  assert.deepEqual(clashOf(alpha, listensOf('0.0.0.0', [6443])), { family: 4, address: '192.0.2.10', port: 6443 });
  assert.deepEqual(clashOf(listensOf('0.0.0.0', [6443]), alpha), { family: 4, address: '192.0.2.10', port: 6443 });
  assert.equal(clashOf(listensOf('fd00::10', [6443]), listensOf('0.0.0.0', [6443])), undefined, '0.0.0.0 catches IPv4 only');
  assert.deepEqual(clashOf(listensOf('fd00::10', [6443]), listensOf('::', [6443])), { family: 6, address: 'fd00::10', port: 6443 });
});

test('server ids skip the ids another table on the host carries, and stay as they were otherwise', () => {
  const keys = ['kubernetes|10.0.2.11|6443', 'kubernetes|10.0.2.12|6443'];
  const alone = serverIds(keys);
  const beside = serverIds(keys, [alone.get(keys[0])!]);
  assert.notEqual(beside.get(keys[0]), alone.get(keys[0]));
  assert.equal(beside.get(keys[1]), alone.get(keys[1]));
  assert.equal(new Set([...beside.values(), alone.get(keys[0])]).size, 3);
});

test('roundrobin slots follow the weights, spread out (smooth weighted round robin)', () => {
  const listener: KernelListener = { name: 'k', port: 1, balance: 'roundrobin', members: [server('a', '10.0.0.1', 3), server('b', '10.0.0.2', 1), server('c', '10.0.0.3', 0)] };
  assert.deepEqual(slots(listener), ['a', 'a', 'b', 'a']);
  assert.deepEqual(slots({ ...listener, members: [server('a', '10.0.0.1', 0)] }), [], 'weight 0 takes no slot');
});

test('source slots: shares follow the weights, and removing a member moves only that member\'s slots', () => {
  const members = [server('0a0001', '10.0.0.1', 1), server('0a0002', '10.0.0.2', 1), server('0a0003', '10.0.0.3', 2)];
  const listener: KernelListener = { name: 'k', port: 1, balance: 'source', members };
  const all = slots(listener);
  assert.equal(all.length, SOURCE_SLOTS);
  const share = (id: string) => all.filter((s) => s === id).length / SOURCE_SLOTS;
  assert.ok(Math.abs(share('0a0003') - 0.5) < 0.1, `weight 2 of 4 → ${share('0a0003')}`);
  assert.ok(Math.abs(share('0a0001') - 0.25) < 0.1);
  const without = slots({ ...listener, members: members.filter((m) => m.id !== '0a0002') });
  for (let i = 0; i < SOURCE_SLOTS; i++) {
    if (all[i] !== '0a0002') assert.equal(without[i], all[i], `slot ${i} moved although its member stayed`);
  }
  assert.deepEqual(slots(listener), all, 'the same on every call (and every host)');
});

test('server ids: stable, distinct, 6 hex digits; marks carry our prefix', () => {
  const keys = Array.from({ length: 2000 }, (_, i) => `kubernetes|10.0.${i >> 8}.${i & 255}|6443`);
  const ids = serverIds(keys);
  assert.equal(new Set(ids.values()).size, keys.length);
  for (const id of ids.values()) assert.match(id, /^[0-9a-f]{6}$/);
  assert.deepEqual(serverIds([...keys].reverse()), ids, 'independent of order');
  assert.equal(markOf('0a0001'), 0xcc0a0001);
});
