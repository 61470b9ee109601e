// The anycast endpoint on lo: where it already is is found by value, in any spelling of the address.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { EndpointAddress } from '../../../src/bgp/address.js';
import { UserError } from '../../../src/errors.js';
import type { CommandRunner } from '../../../src/vip/announcers/command.js';

/** `ip -j addr show` with `address` on `ifname` (as iproute2 prints it: compressed, lower case). */
const ipWith = (ifname: string, address: string): CommandRunner => async (_file, args) => {
  if (args[0] === '-j') return { code: 0, stdout: JSON.stringify([{ ifname: 'lo', addr_info: [{ local: '127.0.0.1' }] }, { ifname, addr_info: [{ local: address }] }]), stderr: '' };
  return { code: 0, stdout: '', stderr: '' };
};

/** Spellings of one IPv6 address: zeros written out or compressed, upper or lower case. */
const spellings = (groups: number[]) => fc.tuple(fc.boolean(), fc.boolean()).map(([full, upper]) => {
  const text = full ? groups.map((g) => g.toString(16).padStart(4, '0')).join(':') : groups.map((g) => g.toString(16)).join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
  return upper ? text.toUpperCase() : text;
});

test('an endpoint already on another interface is refused whatever its spelling in the spec', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ce-bgp-address-'));
  try {
    await fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).chain((g) => fc.tuple(fc.constant(g), spellings(g))), async ([groups, written]) => {
      const printed = new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
      const address = new EndpointAddress(written, dir, ipWith('eth0', printed));
      assert.deepEqual(await address.holders(), ['eth0'], `${written} is ${printed}`);
      await assert.rejects(address.ensure(), (e: unknown) => e instanceof UserError && /already in use on this host \(on eth0\)/.test(e.message));
    }), { numRuns: 200 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
