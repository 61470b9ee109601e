// A stand-in node of the README's cluster, in its own network namespace: the demo's simulated node (kube-apiserver's
// /readyz, /livez, /version over TLS on 6443, a TLS listener on the Talos port 50000) on the node's address.
//
//   node --import tsx test/integration/package/readme-node.ts '{"name":"cp-01","address":"192.168.30.31","cert":"…","key":"…"}'
//
// Prints "listening" once both ports are bound; SIGTERM closes them and exits.
import { SimulatedNode } from '../../../src/demo/node.js';

const options = JSON.parse(process.argv[2] ?? '{}') as { name: string; address: string; cert: string; key: string };
const node = new SimulatedNode({ ...options, kubernetesPort: 6443, talosPort: 50000 });
await node.start();
process.stdout.write('listening\n');
process.on('SIGTERM', () => { void node.stop().then(() => process.exit(0)); });
