import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Slots, SLOT_MS } from '../../../src/health/slots.js';

test('jobs due in the same slot run together, on the grid, in one callback', async () => {
  const slots = new Slots();
  const ran: Array<[string, number]> = [];
  const base = Math.ceil((Date.now() + 50) / SLOT_MS) * SLOT_MS;
  for (const [name, offset] of [['a', 1], ['b', 5], ['c', SLOT_MS - 1], ['d', SLOT_MS + 1]] as const) {
    slots.add(base + offset, () => ran.push([name, Date.now()]));
  }
  assert.equal(slots.size, 4);
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(ran.map(([n]) => n), ['a', 'b', 'c', 'd']);
  const [a, b, c, d] = ran.map(([, at]) => at);
  assert.ok(a >= base + SLOT_MS, 'never early');
  assert.equal(a, b);
  assert.equal(b, c, 'a, b and c share one slot');
  assert.ok(d >= base + 2 * SLOT_MS);
  assert.equal(slots.size, 0);
});

test('cancel removes a job; an empty schedule leaves no timer running', async () => {
  const slots = new Slots();
  let ran = 0;
  const job = () => { ran++; };
  const slot = slots.add(Date.now() + 30, job);
  slots.cancel(slot, job);
  slots.cancel(slot, job);
  assert.equal(slots.size, 0);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(ran, 0);
  // An earlier job re-arms the timer; a later one waits behind it.
  const order: number[] = [];
  slots.add(Date.now() + 60, () => order.push(2));
  slots.add(Date.now() + 10, () => order.push(1));
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(order, [1, 2]);
});
