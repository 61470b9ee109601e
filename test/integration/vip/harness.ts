// Runs VipManager alone, as `serve` would, inside one namespace: a TCP listener on the first listener's port that
// answers with the peer's name (the balancer stand-in) and a VipManager that is healthy until told otherwise.
// stdin commands: "unhealthy" / "healthy" flip health. SIGTERM = planned stop. Logs are pino JSON on stderr.
//   ip netns exec NS node --import tsx test/integration/vip/harness.ts SPEC PEER
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { createLogger } from '../../../src/log.js';
import { requireSpec } from '../../../src/spec/load.js';
import { selectSelf, VipManager } from '../../../src/vip/manager.js';
import { HealthFlag } from '../../helpers/health.js';

const [specPath, peerName] = process.argv.slice(2);
const spec = await requireSpec(specPath);
if (!spec.vip) throw new Error('spec has no vip');
const logger = createLogger({ pretty: false });
const self = selectSelf(spec.vip, peerName);
const server = createServer((socket) => { socket.end(`${self.name}\n`); socket.on('error', () => undefined); });
await new Promise<void>((resolve) => server.listen(spec.listeners[0].port, '0.0.0.0', resolve));
const health = new HealthFlag();
const manager = new VipManager({ vip: spec.vip, self, logger, health });
await manager.start();
logger.info({ peer: self.name }, 'harness ready');

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'unhealthy') health.set(false);
  if (line === 'healthy') health.set(true);
  if (line === 'stats') logger.info({ stats: manager.stats(), snapshot: manager.snapshot() }, 'harness stats');
});
process.once('SIGTERM', () => {
  void manager.stop().then(() => server.close()).then(() => process.exit(0));
});
