import assert from 'node:assert/strict';
import { test } from 'node:test';
import { READ_PAUSE, READ_RETAINED, ReadBuffer } from '../../../src/lb/read-buffer.js';

/** Drives a ReadBuffer as Node does: ask for the buffer, fill `size` bytes, call back. */
function simulate(flagsFor: (chunk: Buffer) => number) {
  const chunks: Buffer[] = [];
  const reader = new ReadBuffer((chunk) => { chunks.push(chunk); return flagsFor(chunk); });
  const { buffer, callback } = reader.onread;
  let target = buffer();
  return {
    chunks,
    read(size: number, fill: number): { target: Buffer; keepReading: boolean } {
      const used = target;
      used.fill(fill, 0, size);
      const keepReading = callback(size, used);
      target = buffer();
      return { target: used, keepReading };
    },
  };
}

test('small reads land in the shared scratch buffer and are copied out (idle connections own no buffer)', () => {
  const s = simulate(() => 0);
  const first = s.read(100, 1);
  const second = s.read(100, 2);
  assert.equal(first.target, second.target, 'both small reads used the scratch buffer');
  assert.deepEqual([...new Set(s.chunks[0])], [1], 'the first chunk was copied, not overwritten by the second read');
  assert.notEqual(s.chunks[0].buffer, first.target.buffer);
});

test('bulk reads get a buffer of their own, reused while nothing retains the last chunk', () => {
  const s = simulate(() => 0);
  s.read(32_768, 1); // from scratch (copied); switches to an own buffer
  const a = s.read(32_768, 2).target;
  const b = s.read(32_768, 3).target;
  assert.equal(a, b, 'own buffer reused');
  assert.equal(s.chunks[2].buffer, b.buffer, 'chunk is a view, no copy');
});

test('a retained chunk is never overwritten: the next read gets a fresh buffer', () => {
  let retain = false;
  const s = simulate(() => (retain ? READ_RETAINED : 0));
  s.read(32_768, 1);
  s.read(32_768, 2);
  retain = true;
  const lent = s.read(32_768, 7);
  retain = false;
  const next = s.read(32_768, 8);
  assert.notEqual(next.target, lent.target);
  assert.deepEqual([...new Set(s.chunks[2])], [7], 'the retained chunk kept its bytes');
});

test('READ_PAUSE stops reading', () => {
  const s = simulate(() => READ_PAUSE);
  assert.equal(s.read(10, 1).keepReading, false);
});
