// Property-based tests of the spec loader, durations and addresses (issue 9, "fuzzing"): any input gets a
// clear answer — a spec, or problems that each name a path and a fix — never an exception or a hang.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { addressKind, isLoopback, joinHostPort, splitHostPort } from '../../../src/spec/address.js';
import { formatDuration, parseDuration } from '../../../src/spec/duration.js';
import { parseSpec } from '../../../src/spec/load.js';

const VALID = { cluster: { name: 'fuzz' }, endpoint: '10.0.0.10', controlPlane: [{ name: 'cp-01', address: '10.0.0.11' }] };

function checkResult(result: ReturnType<typeof parseSpec>, input: string): void {
  if (result.spec) return;
  assert.ok(result.problems.length > 0, `no spec and no problem for ${JSON.stringify(input.slice(0, 200))}`);
  for (const p of result.problems) {
    assert.equal(typeof p.message, 'string');
    assert.ok(p.message.length > 0 && p.message.length < 2000, `message of ${p.path}: ${p.message.slice(0, 200)}`);
    assert.ok(typeof p.hint === 'string' && p.hint.length > 0, `no fix for ${p.path}: ${p.message}`);
  }
}

test('parseSpec: arbitrary text never throws', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.string({ unit: 'binary', maxLength: 400 })), (text) => {
    checkResult(parseSpec(text), text);
  }), { numRuns: 500 });
});

test('parseSpec: a valid spec with any key replaced by any JSON value gets a spec or located problems', () => {
  const keys = ['cluster', 'endpoint', 'controlPlane', 'workers', 'listeners', 'healthCheck', 'deregistrationDelay', 'balancer', 'vip', 'aws', 'talos', 'dns', 'unknownKey'];
  const nested = ['balancer.admin', 'balancer.adminToken', 'balancer.firstByteTimeout', 'balancer.retries', 'healthCheck.interval', 'healthCheck.timeout', 'vip.address', 'vip.authKey', 'controlPlane.0.address', 'controlPlane.0.name', 'listeners.0.port'];
  fc.assert(fc.property(fc.constantFrom(...keys, ...nested), fc.jsonValue({ maxDepth: 3 }), (path, value) => {
    const spec = structuredClone(VALID) as Record<string, unknown>;
    const parts = path.split('.');
    let at = spec;
    for (const part of parts.slice(0, -1)) {
      at[part] ??= /^\d+$/.test(parts[parts.indexOf(part) + 1] ?? '') ? [{}] : {};
      at = at[part] as Record<string, unknown>;
    }
    at[parts.at(-1)!] = value;
    const text = stringify(spec);
    checkResult(parseSpec(text), text);
  }), { numRuns: 400 });
});

test('parseSpec: truncating a valid spec anywhere never throws', () => {
  const text = stringify({ ...VALID, listeners: [{ name: 'kubernetes', port: 6443, targetPort: 6443, targets: 'controlPlane' }], healthCheck: { interval: '10s', timeout: '5s' }, balancer: { admin: '127.0.0.1:8404', firstByteTimeout: '3s' } });
  fc.assert(fc.property(fc.nat({ max: text.length }), (cut) => { checkResult(parseSpec(text.slice(0, cut)), text.slice(0, cut)); }), { numRuns: 300 });
});

test('durations: parse(format(ms)) is ms; anything else is a duration or undefined', () => {
  fc.assert(fc.property(fc.nat({ max: 7 * 24 * 3_600_000 }), (ms) => { assert.equal(parseDuration(formatDuration(ms)), ms); }), { numRuns: 500 });
  fc.assert(fc.property(fc.string({ maxLength: 30 }), (text) => {
    const ms = parseDuration(text);
    assert.ok(ms === undefined || (Number.isInteger(ms) && ms >= 0), `${JSON.stringify(text)} → ${ms}`);
  }), { numRuns: 500 });
});

test('addresses: host:port round-trips; loopback is decided by address, never by a name prefix', () => {
  const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
  fc.assert(fc.property(host, fc.integer({ min: 1, max: 65535 }), (h, port) => {
    assert.deepEqual(splitHostPort(joinHostPort(h, port)), { host: h, port });
  }), { numRuns: 500 });
  fc.assert(fc.property(fc.domain(), (name) => {
    const tricky = `127.${name}`;
    if (addressKind(tricky) === 'dns') assert.equal(isLoopback(tricky), false, tricky);
  }), { numRuns: 300 });
  fc.assert(fc.property(fc.string({ maxLength: 60 }), (text) => { addressKind(text); isLoopback(text); splitHostPort(text); }), { numRuns: 500 });
});
