import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leastconn } from '../../../src/lb/balancers/leastconn.js';
import { roundrobin } from '../../../src/lb/balancers/roundrobin.js';
import { source } from '../../../src/lb/balancers/source.js';

const server = (key: string, weight = 1, activeConnections = 0) => ({ key, weight, activeConnections });
const ctx = { clientAddress: '10.0.0.1' };

test('roundrobin: equal weights rotate strictly', () => {
  const b = roundrobin();
  const servers = [server('a'), server('b'), server('c')];
  const picks = Array.from({ length: 9 }, () => b.pick(servers, ctx)!.key);
  assert.deepEqual(picks, ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
});

test('roundrobin: weights are honoured smoothly (5:1:1 over 7 picks)', () => {
  const b = roundrobin();
  const servers = [server('a', 5), server('b', 1), server('c', 1)];
  const picks = Array.from({ length: 7 }, () => b.pick(servers, ctx)!.key);
  assert.deepEqual(picks, ['a', 'a', 'b', 'a', 'c', 'a', 'a']);
});

test('roundrobin: weight 0 is never picked; a shrinking set keeps rotating', () => {
  const b = roundrobin();
  assert.equal(b.pick([server('a', 0)], ctx), undefined);
  const all = [server('a'), server('b'), server('c')];
  b.pick(all, ctx);
  const two = [all[0], all[2]];
  const counts = { a: 0, c: 0 } as Record<string, number>;
  for (let i = 0; i < 100; i++) counts[b.pick(two, ctx)!.key]++;
  assert.ok(Math.abs(counts.a - counts.c) <= 2, `uneven: ${JSON.stringify(counts)}`);
});

test('leastconn: picks the fewest active connections per weight, ties rotate', () => {
  const b = leastconn();
  const table: Array<[Array<ReturnType<typeof server>>, string[]]> = [
    [[server('a', 1, 3), server('b', 1, 1), server('c', 1, 2)], ['b', 'b']],
    [[server('a', 2, 4), server('b', 1, 3)], ['a', 'a']],
    [[server('a', 1, 1), server('b', 1, 1), server('c', 1, 5)], ['a', 'b', 'a', 'b']],
  ];
  for (const [servers, expected] of table) {
    const picks = expected.map(() => b.pick(servers, ctx)!.key);
    assert.deepEqual(picks, expected);
  }
});

test('source: a client keeps its server, clients spread, and only a down server\'s clients move', () => {
  const b = source();
  const servers = [server('a'), server('b'), server('c')];
  const clients = Array.from({ length: 3000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.7`);
  const first = new Map(clients.map((c) => [c, b.pick(servers, { clientAddress: c })!.key]));
  for (const c of clients.slice(0, 100)) assert.equal(b.pick(servers, { clientAddress: c })!.key, first.get(c));
  const counts = [...first.values()].reduce((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map<string, number>());
  for (const count of counts.values()) assert.ok(count > 800 && count < 1200, `uneven spread ${[...counts.entries()]}`);
  const withoutB = [servers[0], servers[2]];
  for (const c of clients) {
    const next = b.pick(withoutB, { clientAddress: c })!.key;
    if (first.get(c) !== 'b') assert.equal(next, first.get(c), 'a client of a healthy server moved');
  }
});
