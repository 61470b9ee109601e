import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { startDaemon } from '../../../src/runtime/daemon.js';
import { exchange, tempSpec } from '../../helpers/backends.js';
import { freePort, waitFor } from '../../helpers/net.js';
import { startStack } from '../../helpers/stack.js';

test('IPv6 bind and server, and a server given by DNS name', async (t) => {
  const backend = createServer((socket) => socket.on('data', (d) => socket.write(`v6:${d}`)));
  await new Promise<void>((resolve) => backend.listen(0, '::1', resolve));
  t.after(() => backend.close());
  const backendPort = (backend.address() as { port: number }).port;
  const port = await freePort('::1');
  const spec = await tempSpec({
    cluster: { name: 'test' }, endpoint: '::1',
    controlPlane: [{ name: 'cp-01', address: '::1' }, { name: 'cp-02', address: 'localhost' }],
    listeners: [{ name: 'kubernetes', port, targetPort: backendPort, targets: 'controlPlane' }],
    healthCheck: { interval: '200ms', fastInterval: '100ms', timeout: '100ms' },
    balancer: { bind: '::1', admin: `127.0.0.1:${await freePort()}`, watch: false },
  });
  t.after(() => spec.cleanup());
  const daemon = await startDaemon({ specPath: spec.path, logger: silentLogger });
  t.after(() => daemon.destroy());
  // localhost resolves to ::1 or 127.0.0.1; only ::1 listens, so cp-02 is up exactly when it resolved to ::1.
  await waitFor(() => daemon.snapshot().listeners[0].servers[0].state === 'up', 5000);
  for (let i = 0; i < 6; i++) assert.equal(await exchange(port, `x${i}`, { host: '::1' }), `v6:x${i}`);
});

test('failed connects count against a server: traffic marks a dead server down before its next check', async (t) => {
  // Checks every 30s (1s while a state changes): the proxy's own failed connects mark cp-02 down first.
  const stack = await startStack(['cp-01', 'cp-02'], { healthCheck: { interval: '30s', fastInterval: '1s', timeout: '500ms' } });
  t.after(() => stack.close());
  await stack.backends[1].kill();
  for (let i = 0; i < 10; i++) assert.match(await exchange(stack.port, `p${i}`), /^cp-01:/);
  const cp02 = stack.server('cp-02');
  assert.equal(cp02.state, 'down', `cp-02 is ${cp02.state} after ${cp02.connectFailures} failed connects`);
  assert.match(cp02.stateReason, /proxy connect ECONNREFUSED/);
});
