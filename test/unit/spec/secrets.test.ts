// Secrets never come back out (docs/security.md): a spec problem does not repeat the admin token or the VIP key,
// whatever type they were written as, and a rendered file that holds one says so.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RENDERERS } from '../../../src/render/index.js';
import { parseSpec } from '../../../src/spec/load.js';

const base = 'cluster: {name: t}\nendpoint: 127.0.0.1\ncontrolPlane: [{name: cp-01, address: 10.0.0.1}]\n';

test('a problem about the admin token or the VIP key never repeats its value', () => {
  for (const [text, secret] of [
    [`${base}balancer: {adminToken: 123456789012345678901}\n`, '123456789012345678901'],
    [`${base}balancer: {adminToken: 1.5e30}\n`, '1.5e+30'],
    [`${base}vip: {address: 10.0.0.9, authKey: 987654321}\n`, '987654321'],
    [`${base}balancer: {adminToken: [hunter2hunter2hunter2]}\n`, 'hunter2'],
    [`${base}balancer: {adminToken: short-secret}\n`, 'short-secret'],
  ] as const) {
    const result = parseSpec(text);
    assert.ok(result.problems.length > 0, text);
    const said = JSON.stringify(result.problems);
    assert.ok(!said.includes(secret) && !said.includes(String(Number(secret))), `${said} repeats the secret`);
  }
});

test('keepalived.conf with an auth_pass is marked secret (written 0600)', () => {
  const { spec } = parseSpec(`${base}vip: {address: 10.0.0.9, interface: eth0, authKey: key-12345678, peers: [{name: lb-01, address: 10.0.0.11, priority: 150}, {name: lb-02, address: 10.0.0.12, priority: 100}]}\n`);
  assert.ok(spec);
  const files = RENDERERS.keepalived.render(spec, { version: 't', specName: 'e' });
  assert.ok(files.length === 2 && files.every((f) => f.secret === true && f.contents.includes('auth_pass')));
  for (const target of ['haproxy', 'builtin']) {
    for (const file of RENDERERS[target].render(spec, { version: 't', specName: 'e' })) assert.ok(!file.contents.includes('key-12345678'), `${target} ${file.path} holds the VIP key`);
  }
});
