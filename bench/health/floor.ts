// The floor of the health-check bench: what one TCP connect and close per server per second costs a process
// that does nothing else. No checker, no engine, no objects of ours: a raw libuv TCP handle (the tcp_wrap
// binding), connect, and close() as soon as the connect completes, N a second in 20 ms slots as the checker
// spreads them. Its CPU is mostly the kernel's (socket, connect, epoll, close, and on loopback the servers'
// half of the handshake): checks made by a Node process through libuv cannot go below it on the same machine.
//   node dist/bench/health/floor.js PORT [SERVERS]   (runs until SIGTERM)
// PORT: where bench/health/listeners.ts listens.
import { serverAddress } from './listeners.js';

interface TcpHandle {
  connect(request: ConnectRequest, address: string, port: number): number;
  close(): void;
}
interface ConnectRequest { oncomplete: ((status: number) => void) | null }
interface TcpWrap {
  TCP: new (type: number) => TcpHandle;
  TCPConnectWrap: new () => ConnectRequest;
  constants: { SOCKET: number };
}

const { TCP, TCPConnectWrap, constants } = (process as unknown as { binding(name: string): TcpWrap }).binding('tcp_wrap');
const port = Number(process.argv[2]);
const servers = Number(process.argv[3] ?? 1000);
const SLOT_MS = 20;
const slots = 1000 / SLOT_MS;
const addresses = Array.from({ length: servers }, (_, i) => serverAddress(i));

function connectAndClose(address: string): void {
  const handle = new TCP(constants.SOCKET);
  const request = new TCPConnectWrap();
  request.oncomplete = () => handle.close();
  if (handle.connect(request, address, port) !== 0) handle.close();
}

let slot = 0;
setInterval(() => {
  for (let i = slot; i < servers; i += slots) connectAndClose(addresses[i]);
  slot = (slot + 1) % slots;
}, SLOT_MS);
process.stdout.write('connecting\n');
process.on('SIGTERM', () => process.exit(0));
