// Picks how connections are carried: the handles engine where this Node has its bindings, else
// net.Socket. CLUSTER_ENDPOINT_TCP=sockets forces the portable one (for comparison, or should a Node
// release change the internals handles.ts uses).
import { handlesEngine } from './handles.js';
import { socketsEngine } from './sockets.js';
import type { TcpEngine } from './stream.js';

export type { ConnectCallback, Probing, StreamHandler, TcpEngine, TcpStream } from './stream.js';

export function tcpEngine(env: NodeJS.ProcessEnv = process.env): TcpEngine {
  if (env.CLUSTER_ENDPOINT_TCP === 'sockets' || !handlesEngine) return socketsEngine;
  return handlesEngine;
}
