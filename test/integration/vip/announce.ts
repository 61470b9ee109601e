// Takes the VIP on this host as serve's takeover does for balancer.mode MODE (announcerFor), keeps it HOLD_MS,
// then releases it; prints "acquired" and "released", and the announcer's log (debug) on stderr. Run inside a
// test namespace:
//   ip netns exec NS node --import tsx test/integration/vip/announce.ts VIP PREFIX IFACE SELF PEER proxy|kernel HOLD_MS
import { createLogger } from '../../../src/log.js';
import { announcerFor } from '../../../src/runtime/vip.js';
import type { Spec, Vip } from '../../../src/spec/types.js';

const [address, prefix, iface, selfAddress, peerAddress, mode, holdText] = process.argv.slice(2);
const self = { name: 'lb', address: selfAddress, priority: 150 };
const vip = { address, prefixLength: Number(prefix), interface: iface, family: 4, peers: [self, { name: 'peer', address: peerAddress, priority: 100 }] } as Vip;
const announcer = announcerFor({ balancer: { mode } as Spec['balancer'], vip }, self, createLogger({ level: 'debug', pretty: false }));
await announcer.prepare?.();
await announcer.acquire();
process.stdout.write('acquired\n');
await new Promise((r) => setTimeout(r, Number(holdText)));
await announcer.release();
announcer.close?.();
process.stdout.write('released\n');
