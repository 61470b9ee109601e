import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eject, ejectionMs, EJECTION_BASE_MS, EJECTION_MAX_MS, preferNotEjected } from '../../../src/lb/outlier.js';
import type { Server } from '../../../src/lb/server.js';

const server = (name: string, ejectedUntil = 0) => ({ name, ejectedUntil, ejections: 0 }) as unknown as Server;

test('ejections double from 30 s up to 5 min', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 50].map(ejectionMs), [EJECTION_BASE_MS, 60_000, 120_000, 240_000, EJECTION_MAX_MS, EJECTION_MAX_MS]);
});

test('eject starts one ejection; connections timing out meanwhile do not extend it', () => {
  const s = server('cp-01');
  assert.equal(eject(s, 1000), 30_000);
  assert.equal(s.ejectedUntil, 31_000);
  assert.equal(eject(s, 2000), 0);
  assert.equal(s.ejectedUntil, 31_000);
  assert.equal(eject(s, 31_000), 60_000, 'the next one, after the first ended, is twice as long');
});

test('preferNotEjected steers away from ejected servers but never leaves none', () => {
  const now = Date.now();
  const a = server('a'); const b = server('b', now + 10_000); const c = server('c', now - 1);
  assert.deepEqual(preferNotEjected([a, b, c]).map((s) => s.name), ['a', 'c']);
  assert.equal(c.ejectedUntil, 0, 'an ejection that is over is forgotten');
  assert.deepEqual(preferNotEjected([b]).map((s) => s.name), ['b']);
  const list = [a, c];
  assert.equal(preferNotEjected(list), list, 'no ejection: the same array, no clock read');
});
