// Sends one advertisement with a chosen key, sender and priority to HOST:PORT (run it from any namespace).
//   node --import tsx test/integration/vip/forge.ts HOST PORT KEY SENDER PRIORITY [ROUTER_ID]
import { createSocket } from 'node:dgram';
import { encodeAdvert } from '../../../src/vip/election/packet.js';

const [host, port, key, sender, priority, routerId] = process.argv.slice(2);
const socket = createSocket('udp4');
const packet = encodeAdvert({ virtualRouterId: Number(routerId ?? 51), priority: Number(priority), advertIntervalMs: 100, sequence: BigInt(Date.now() * 1000 + 1_000_000), sender }, key);
socket.send(packet, Number(port), host, (error) => { socket.close(); if (error) { console.error(error.message); process.exit(1); } console.log('sent'); });
