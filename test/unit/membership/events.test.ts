// The one membership-change event: an announcer subscribes to the daemon's health and hears every change
// that can change it (a member marked down or up, a drain, a reload), with no polling — it reads healthy()
// only when told, so what it saw is exactly what the daemon said at each change.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import type { EndpointHealth } from '../../../src/membership/health.js';
import { startDaemon, type AnnouncerFactory } from '../../../src/runtime/daemon.js';
import { specFor, startBackends, tempSpec } from '../../helpers/backends.js';
import { freePort, waitFor } from '../../helpers/net.js';

/** An announcer that records healthy() each time the membership-change event fires. */
function recorder() {
  const seen: boolean[] = [];
  let health: EndpointHealth | undefined;
  let unsubscribe: (() => void) | undefined;
  const factory: AnnouncerFactory = (_spec, h) => {
    health = h;
    return {
      async start() { unsubscribe = h.onChange(() => seen.push(h.healthy())); },
      async stop() { unsubscribe?.(); },
      snapshot: () => ({}),
    };
  };
  return { factory, seen, healthy: () => health!.healthy() };
}

test('the membership-change event tells announcers of health, drain and reload changes', async (t) => {
  const backends = await startBackends(['cp-01', 'cp-02']);
  const spec = await tempSpec(specFor({ port: await freePort(), adminPort: await freePort(), backends }));
  const announcer = recorder();
  const daemon = await startDaemon({ specPath: spec.path, logger: silentLogger, announcers: [announcer.factory] });
  t.after(async () => {
    await daemon.destroy();
    await Promise.all(backends.map((b) => b.close()));
    await spec.cleanup();
  });

  assert.ok(await waitFor(() => announcer.seen.includes(true), 5000), 'told when the first member came up');
  await waitFor(() => daemon.snapshot().listeners[0].servers.every((s) => s.state === 'up'), 5000);

  // Both members marked down by their checks: the last change says unhealthy.
  let mark = announcer.seen.length;
  await Promise.all(backends.map((b) => b.kill()));
  assert.ok(await waitFor(() => announcer.seen.slice(mark).includes(false), 5000), 'told when no member is up');
  assert.equal(announcer.seen.at(-1), false);
  assert.equal(announcer.healthy(), false);

  // Back up: told again.
  mark = announcer.seen.length;
  await Promise.all(backends.map((b) => b.restart()));
  assert.ok(await waitFor(() => announcer.seen.slice(mark).includes(true), 5000), 'told when a member is up again');

  // An operator's drain of both: no member ready, told at once (synchronously with the admin call).
  await waitFor(() => daemon.snapshot().listeners[0].servers.every((s) => s.state === 'up'), 5000);
  mark = announcer.seen.length;
  daemon.setAdminState({ server: 'cp-01' }, 'drain');
  daemon.setAdminState({ server: 'cp-02' }, 'drain');
  assert.deepEqual(announcer.seen.slice(mark), [true, false], 'one event per admin change, read after it');
  mark = announcer.seen.length;
  daemon.setAdminState({ server: 'cp-02' }, 'ready');
  assert.deepEqual(announcer.seen.slice(mark), [true]);

  // A reload that removes cp-02 (the only ready one): told by the commit.
  mark = announcer.seen.length;
  await spec.write(specFor({ port: daemon.snapshot().listeners[0].port, adminPort: Number(new URL(daemon.adminUrl).port), backends: [backends[0]] }));
  const record = await daemon.reload();
  assert.equal(record.ok, true, record.message);
  assert.ok(announcer.seen.slice(mark).length >= 1, 'the reload told the announcers');
  assert.equal(announcer.seen.at(-1), false, 'cp-01 is drained, cp-02 gone: unhealthy');
});
