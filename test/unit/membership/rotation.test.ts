import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { AdminState, ServerState } from '../../../src/health/types.js';
import { inRotation, isEligible, type RotationCandidate } from '../../../src/membership/rotation.js';

type M = RotationCandidate & { name: string };
const m = (name: string, state: ServerState, adminState: AdminState = 'ready', removed = false): M => ({ name, state, adminState, removed });

test('inRotation: who gets new flows, per state, admin state and policy', () => {
  const cases: Array<{ name: string; members: M[]; failOpen: string[]; reject: string[] }> = [
    { name: 'all up and ready', members: [m('a', 'up'), m('b', 'up'), m('c', 'up')], failOpen: ['a', 'b', 'c'], reject: ['a', 'b', 'c'] },
    { name: 'one down: the others', members: [m('a', 'up'), m('b', 'down'), m('c', 'up')], failOpen: ['a', 'c'], reject: ['a', 'c'] },
    { name: 'checking is not up', members: [m('a', 'checking'), m('b', 'up')], failOpen: ['b'], reject: ['b'] },
    { name: 'drain and maint take no new flows', members: [m('a', 'up', 'drain'), m('b', 'up', 'maint'), m('c', 'up')], failOpen: ['c'], reject: ['c'] },
    { name: 'removed takes no new flows', members: [m('a', 'up', 'ready', true), m('b', 'up')], failOpen: ['b'], reject: ['b'] },
    { name: 'all down: fail-open tries all, reject none', members: [m('a', 'down'), m('b', 'down')], failOpen: ['a', 'b'], reject: [] },
    { name: 'all down: fail-open still skips maint', members: [m('a', 'down', 'maint'), m('b', 'down')], failOpen: ['b'], reject: [] },
    { name: 'all down: fail-open keeps drain (only maint is out)', members: [m('a', 'down', 'drain'), m('b', 'checking')], failOpen: ['a', 'b'], reject: [] },
    { name: 'all down: fail-open skips removed', members: [m('a', 'down', 'ready', true), m('b', 'down')], failOpen: ['b'], reject: [] },
    { name: 'up but all drained counts as none eligible', members: [m('a', 'up', 'drain'), m('b', 'up', 'drain')], failOpen: ['a', 'b'], reject: [] },
    { name: 'every one in maint: nobody', members: [m('a', 'up', 'maint'), m('b', 'down', 'maint')], failOpen: [], reject: [] },
    { name: 'no members', members: [], failOpen: [], reject: [] },
  ];
  for (const c of cases) {
    assert.deepEqual(inRotation(c.members, 'fail-open').map((x) => x.name), c.failOpen, `${c.name} (fail-open)`);
    assert.deepEqual(inRotation(c.members, 'reject').map((x) => x.name), c.reject, `${c.name} (reject)`);
  }
});

test('inRotation: the eligible when there are any, in order; never a maint or removed member', () => {
  const member = fc.record({
    state: fc.constantFrom<ServerState>('checking', 'up', 'down'),
    adminState: fc.constantFrom<AdminState>('ready', 'drain', 'maint'),
    removed: fc.boolean(),
  });
  fc.assert(fc.property(fc.array(member, { maxLength: 12 }), fc.constantFrom('fail-open' as const, 'reject' as const), (members, policy) => {
    const rotation = inRotation(members, policy);
    const eligible = members.filter(isEligible);
    if (eligible.length > 0) assert.deepEqual(rotation, eligible);
    else if (policy === 'reject') assert.deepEqual(rotation, []);
    // Order kept, a subset of the input.
    let at = -1;
    for (const chosen of rotation) {
      const index = members.indexOf(chosen, at + 1);
      assert.ok(index > at);
      at = index;
    }
    assert.ok(rotation.every((x) => x.adminState !== 'maint' && !x.removed));
  }));
});
