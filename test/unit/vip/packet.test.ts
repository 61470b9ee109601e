import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compareAddresses } from '../../../src/vip/election/address-order.js';
import { decodeAdvert, encodeAdvert, ReplayGuard, SequenceSource, type Advert } from '../../../src/vip/election/packet.js';

const advert: Advert = { virtualRouterId: 51, priority: 100, advertIntervalMs: 100, sequence: 1_700_000_000_000_000n, sender: 'lb-01' };

describe('advert packet', () => {
  it('round-trips with the right key', () => {
    const decoded = decodeAdvert(encodeAdvert(advert, 'secret-key'), 'secret-key');
    assert.deepEqual(decoded, { ok: true, advert });
  });

  it('rejects a wrong key as auth', () => {
    assert.deepEqual(decodeAdvert(encodeAdvert(advert, 'secret-key'), 'other-key'), { ok: false, reason: 'auth' });
  });

  it('rejects any flipped bit of the body as auth, and bad framing as malformed', () => {
    const packet = encodeAdvert(advert, 'k3y-k3y-k3y');
    for (const offset of [6, 7, 9, 15, 21]) {
      const tampered = Buffer.from(packet);
      tampered[offset] ^= 0x01;
      assert.deepEqual(decodeAdvert(tampered, 'k3y-k3y-k3y'), { ok: false, reason: 'auth' }, `byte ${offset}`);
    }
    assert.equal((decodeAdvert(packet.subarray(0, packet.length - 1), 'k3y-k3y-k3y') as { reason: string }).reason, 'malformed');
    assert.equal((decodeAdvert(Buffer.from('hello world, this is not an advert at all....'), 'k3y-k3y-k3y') as { reason: string }).reason, 'malformed');
  });
});

describe('replay protection', () => {
  it('sequences only grow, even when the clock stands still or steps back', () => {
    let now = 1000;
    const source = new SequenceSource(() => now);
    const a = source.next(); const b = source.next();
    now = 900;
    const c = source.next();
    assert.ok(a < b && b < c);
  });

  it('accepts a sender once per sequence, and nothing older than the window before its first packet', () => {
    const now = 1_700_000_000_000;
    const guard = new ReplayGuard(120_000, () => now);
    const fresh = BigInt(now * 1000);
    assert.equal(guard.accept('lb-01', fresh), true);
    assert.equal(guard.accept('lb-01', fresh), false, 'same packet again');
    assert.equal(guard.accept('lb-01', fresh - 1n), false, 'older packet');
    assert.equal(guard.accept('lb-01', fresh + 1n), true);
    assert.equal(guard.accept('lb-02', BigInt((now - 121_000) * 1000)), false, 'recorded more than 120 s ago');
    assert.equal(guard.accept('lb-02', BigInt((now - 60_000) * 1000)), true);
  });
});

describe('address order (tie-break)', () => {
  it('orders IPv4 and IPv6 numerically', () => {
    assert.ok(compareAddresses('10.0.0.9', '10.0.0.10') < 0, 'not text order');
    assert.ok(compareAddresses('10.0.1.0', '10.0.0.255') > 0);
    assert.equal(compareAddresses('fd00::1', 'fd00:0:0:0:0:0:0:1'), 0);
    assert.ok(compareAddresses('fd00::2', 'fd00::10') < 0);
    assert.ok(compareAddresses('fd00::1:0', 'fd00::ffff') > 0);
    assert.equal(compareAddresses('::ffff:10.0.0.1', '::ffff:a00:1'), 0);
  });
});
