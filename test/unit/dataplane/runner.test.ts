// The bounded-frequency runner that syncs the kernel table: one run at a time, requests coalesced, starts at
// least minIntervalMs apart, failures retried with doubling back-off, a periodic run after maxIntervalMs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedFrequencyRunner } from '../../../src/dataplane/kernel/runner.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recorder(options: { minIntervalMs?: number; maxIntervalMs?: number; fail?: number; jobMs?: number } = {}) {
  const starts: number[] = [];
  const errors: number[] = [];
  let fail = options.fail ?? 0;
  let inFlight = 0;
  let overlap = false;
  const runner = new BoundedFrequencyRunner(async () => {
    starts.push(Date.now());
    inFlight++;
    if (inFlight > 1) overlap = true;
    await sleep(options.jobMs ?? 1);
    inFlight--;
    if (fail > 0) { fail--; throw new Error('nft failed'); }
  }, { minIntervalMs: options.minIntervalMs ?? 0, maxIntervalMs: options.maxIntervalMs, retry: { firstMs: 20, maxMs: 80 }, onError: (_e, retryInMs) => errors.push(retryInMs) });
  return { runner, starts, errors, overlap: () => overlap };
}

test('requests in one tick make one run; a request during a run makes exactly one more', async () => {
  const r = recorder({ jobMs: 30 });
  for (let i = 0; i < 5; i++) r.runner.run();
  await sleep(5);
  for (let i = 0; i < 5; i++) r.runner.run();
  await r.runner.settled();
  assert.equal(r.starts.length, 2);
  assert.equal(r.overlap(), false, 'never two runs at once');
  r.runner.stop();
});

test('starts are at least minIntervalMs apart', async () => {
  const r = recorder({ minIntervalMs: 60 });
  r.runner.run();
  await sleep(10);
  r.runner.run();
  const deadline = Date.now() + 2000;
  while (r.starts.length < 2 && Date.now() < deadline) await sleep(5);
  assert.equal(r.starts.length, 2);
  assert.ok(r.starts[1] - r.starts[0] >= 59, `${r.starts[1] - r.starts[0]} ms apart`);
  r.runner.stop();
});

test('a failed run is retried with doubling back-off until one succeeds, and the back-off starts over after it', async () => {
  const r = recorder({ fail: 3 });
  r.runner.run();
  const deadline = Date.now() + 2000;
  while (r.starts.length < 4 && Date.now() < deadline) await sleep(5);
  await sleep(5);
  assert.deepEqual(r.errors, [20, 40, 80]);
  assert.equal(r.starts.length, 4);
  assert.equal(r.runner.failures, 0);
  r.runner.stop();
});

test('a run is due maxIntervalMs after the last one even when nobody asks; stop() ends it all', async () => {
  const r = recorder({ maxIntervalMs: 30 });
  r.runner.run();
  const deadline = Date.now() + 2000;
  while (r.starts.length < 3 && Date.now() < deadline) await sleep(5);
  assert.ok(r.starts.length >= 3, `${r.starts.length} runs`);
  assert.ok(r.starts[2] - r.starts[1] >= 29, 'not sooner than maxIntervalMs');
  r.runner.stop();
  const count = r.starts.length;
  await sleep(80);
  r.runner.run();
  await sleep(10);
  assert.equal(r.starts.length, count);
});
