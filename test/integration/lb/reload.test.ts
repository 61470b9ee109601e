import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exchange, startBackend } from '../../helpers/backends.js';
import { waitFor } from '../../helpers/net.js';
import { startStack } from '../../helpers/stack.js';

/** Keeps `concurrency` clients making new connections until stop() is called; counts failures. */
function steadyLoad(port: number, concurrency: number) {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const workers = Array.from({ length: concurrency }, async (_, w) => {
    for (let i = 0; running && i < 100_000; i++) {
      try {
        const reply = await exchange(port, `w${w}-${i};`);
        if (reply.endsWith(`w${w}-${i};`)) ok++;
        else failures.push(`bad reply ${reply}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  });
  return {
    get ok() { return ok; },
    failures,
    async stop() { running = false; await Promise.all(workers); },
  };
}

test('20 reloads under load: zero failed connections, and servers that stay keep their state', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02', 'cp-03']);
  t.after(() => stack.close());
  const extra = await startBackend('cp-04', { host: bumpHost(stack.backends[2].host), port: stack.backends[0].port });
  t.after(() => extra.close());
  const load = steadyLoad(stack.port, 8);
  t.after(() => load.stop());
  const base = stack.specValue as { controlPlane: Array<{ name: string; address: string }>; listeners: Array<Record<string, unknown>>; healthCheck: Record<string, unknown> };
  for (let i = 0; i < 20; i++) {
    const variant = structuredClone(base);
    // Alternate: add a fourth node, change the algorithm, change check timing.
    if (i % 2 === 0) variant.controlPlane.push({ name: 'cp-04', address: extra.host });
    variant.listeners[0].balance = ['roundrobin', 'leastconn', 'source'][i % 3];
    variant.healthCheck.interval = i % 2 ? '200ms' : '300ms';
    await stack.spec.write(variant);
    const record = await stack.daemon.reload();
    assert.equal(record.ok, true, record.message);
    await new Promise((r) => setTimeout(r, 60));
  }
  await load.stop();
  assert.deepEqual(load.failures, []);
  assert.ok(load.ok > 200, `only ${load.ok} connections made during the reloads`);
  // cp-01 was never removed, so its counters were kept across every reload.
  assert.ok(stack.server('cp-01').totalConnections > 50);
  assert.equal(stack.server('cp-01').state, 'up');
});

test('an invalid reload keeps the running config and reports why', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02']);
  t.after(() => stack.close());
  await stack.spec.write('cluster:\n  name: test\nendpoint: 127.0.0.1\ncontrolPlane:\n  - { name: cp-01, adress: 127.0.0.1 }\n');
  const record = await stack.daemon.reload();
  assert.equal(record.ok, false);
  assert.match(record.message, /still serving the previous config/);
  assert.ok(record.problems?.some((p) => /adress.*did you mean "address"/.test(p)), JSON.stringify(record.problems));
  // Still serving with the old servers, and the failure is visible in the status API.
  for (let i = 0; i < 10; i++) assert.match(await exchange(stack.port, `k${i}`), /^cp-0[12]:/);
  const status = await (await fetch(`${stack.daemon.adminUrl}/api/status`)).json() as { lastReload: { ok: boolean; problems: string[] } };
  assert.equal(status.lastReload.ok, false);
  assert.ok(status.lastReload.problems.length > 0);
  const page = await (await fetch(`${stack.daemon.adminUrl}/`)).text();
  assert.match(page, /still serving the previous config/);
});

test('a reload that cannot bind a new listener keeps the old runtime', async (t) => {
  const stack = await startStack(['cp-01']);
  t.after(() => stack.close());
  const variant = structuredClone(stack.specValue) as { listeners: Array<Record<string, unknown>> };
  // A second listener on the admin port, which is taken: binding fails, nothing changes.
  variant.listeners.push({ name: 'talos', port: stack.adminPort, targetPort: 1, targets: 'controlPlane' });
  await stack.spec.write(variant);
  const record = await stack.daemon.reload();
  assert.equal(record.ok, false);
  assert.match(record.message, /cannot bind/);
  assert.equal(stack.daemon.snapshot().listeners.length, 1);
  assert.match(await exchange(stack.port, 'still'), /^cp-01:still$/);
});

test('a server removed by a reload gets no new connections and its connections drain for the delay', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02'], { deregistrationDelay: '1s' });
  t.after(() => stack.close());
  const { createConnection } = await import('node:net');
  const held: Array<{ socket: import('node:net').Socket; node: string }> = [];
  for (let i = 0; i < 2; i++) {
    const socket = createConnection({ host: '127.0.0.1', port: stack.port });
    socket.on('error', () => undefined);
    socket.write('hold');
    const node = (await new Promise<Buffer>((resolve) => socket.once('data', resolve))).toString().split(':')[0];
    held.push({ socket, node });
  }
  t.after(() => held.forEach((h) => h.socket.destroy()));
  const variant = structuredClone(stack.specValue) as { controlPlane: Array<{ name: string }> };
  variant.controlPlane = variant.controlPlane.filter((n) => n.name !== 'cp-02');
  await stack.spec.write(variant);
  assert.equal((await stack.daemon.reload()).ok, true);
  const removed = stack.daemon.snapshot().listeners[0].servers.find((s) => s.name === 'cp-02');
  assert.equal(removed?.removed, true);
  for (let i = 0; i < 10; i++) assert.match(await exchange(stack.port, `r${i}`), /^cp-01:/);
  const onCp02 = held.find((h) => h.node === 'cp-02')!.socket;
  assert.equal(onCp02.destroyed, false);
  assert.ok(await waitFor(() => onCp02.destroyed || onCp02.readableEnded, 3000));
  assert.equal(held.find((h) => h.node === 'cp-01')!.socket.destroyed, false);
});

test('changing the spec file reloads it by itself (balancer.watch)', async (t) => {
  const stack = await startStack(['cp-01', 'cp-02'], { balancer: { watch: true } });
  t.after(() => stack.close());
  // startStack passes watch in the spec; the daemon follows it. Change cp-02's weight by editing the file (a change
  // that removes servers waits for the file to stay the same: test/integration/lb/spec-delivery.test.ts).
  const variant = structuredClone(stack.specValue) as { controlPlane: Array<{ name: string; weight?: number }> };
  variant.controlPlane = variant.controlPlane.map((n) => (n.name === 'cp-02' ? { ...n, weight: 4 } : n));
  await stack.spec.write(variant);
  assert.ok(await waitFor(() => stack.daemon.snapshot().lastReload?.ok === true, 5000), 'no reload after the file changed');
  assert.equal(stack.daemon.snapshot().listeners[0].servers.find((s) => s.name === 'cp-02')?.weight, 4);
});

function bumpHost(host: string): string {
  const parts = host.split('.');
  parts[3] = String(Number(parts[3]) + 1);
  return parts.join('.');
}
