// conntrackd's configuration is a pure function of the VIP and this peer (golden files, UPDATE_GOLDEN=1
// rewrites; the namespace tests run them); its statistics are read from `conntrackd -s`;
// the announcer lets the sync act once per change of role.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { conntrackdPaths, parseConntrackdStats, renderConntrackd } from '../../../src/dataplane/kernel/conntrackd.js';
import { SyncedAnnouncer } from '../../../src/vip/announcers/synced.js';
import { assertGoldenText } from './golden.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const peers = [
  { name: 'lb-01', address: '192.168.30.11', priority: 150 },
  { name: 'lb-02', address: '192.168.30.12', priority: 100 },
  { name: 'lb-03', address: '192.168.30.13', priority: 50 },
];
const sync = { flows: true, consistentHash: true, port: 3780, interface: 'eth0' };

const CASES = {
  'conntrackd-two-peers': { vip: '192.168.30.30', self: peers[0], peers: peers.slice(0, 2), sync, paths: conntrackdPaths('/run/cluster-endpoint/conntrackd-lb-01') },
  'conntrackd-three-peers': { vip: '192.168.30.30', self: peers[1], peers, sync: { ...sync, interface: 'bond0', port: 3800 }, paths: conntrackdPaths('/run/cluster-endpoint/conntrackd-lb-02') },
};

for (const [name, plan] of Object.entries(CASES)) {
  test(`conntrackd golden: ${name}`, () => assertGoldenText(`${name}.conf`, renderConntrackd(plan)));
}

test('two peers sync over UDP unicast to each other; more use multicast; only forwarded flows (own addresses ignored)', () => {
  const two = renderConntrackd(CASES['conntrackd-two-peers']);
  assert.match(two, /UDP \{\n {4}IPv4_address 192\.168\.30\.11\n {4}IPv4_Destination_Address 192\.168\.30\.12\n {4}Port 3780\n {4}Interface eth0/);
  assert.match(two, /LockFile \/run\/cluster-endpoint\/conntrackd-lb-01\/conntrackd\.lock/);
  assert.match(two, /Address Ignore \{\n {6}IPv4_address 127\.0\.0\.1\n {6}IPv4_address 192\.168\.30\.11\n {6}IPv4_address 192\.168\.30\.12\n/);
  const three = renderConntrackd(CASES['conntrackd-three-peers']);
  assert.match(three, /Multicast \{\n {4}IPv4_address 225\.0\.0\.50\n {4}Group 3800\n {4}IPv4_interface 192\.168\.30\.12\n {4}Interface bond0/);
});

test('conntrackd -s: the caches, the messages and the losses', () => {
  const stats = parseConntrackdStats(readFileSync(join(FIXTURES, 'conntrackd-stats.txt'), 'utf8'));
  assert.deepEqual(stats, { internal: 0, external: 0, messagesSent: 19, messagesReceived: 19, lost: 0 });
  const busy = readFileSync(join(FIXTURES, 'conntrackd-stats.txt'), 'utf8')
    .replace(/cache internal:\ncurrent active connections:\s+0/, 'cache internal:\ncurrent active connections:\t          12')
    .replace(/cache external:\ncurrent active connections:\s+0/, 'cache external:\ncurrent active connections:\t           7')
    .replace(/0 Lost msgs/, '3 Lost msgs');
  assert.deepEqual(parseConntrackdStats(busy), { internal: 12, external: 7, messagesSent: 19, messagesReceived: 19, lost: 3 });
});

test('the sync acts once per change of role: commit before the address goes up, stand by after it is gone', async () => {
  const calls: string[] = [];
  const inner = { acquire: async () => { calls.push('acquire'); return true; }, release: async () => { calls.push('release'); return true; } };
  const announcer = new SyncedAnnouncer(inner, {
    start: async () => { calls.push('start'); },
    takeover: async () => { calls.push('takeover'); },
    standby: async () => { calls.push('standby'); },
  });
  await announcer.prepare();
  await announcer.release(); // at start-up
  await announcer.release(); // again: no second standby
  await announcer.acquire();
  await announcer.acquire(); // idempotent: no second commit
  await announcer.release();
  assert.deepEqual(calls, ['start', 'release', 'standby', 'release', 'takeover', 'acquire', 'acquire', 'release', 'standby']);
});
