// `render builtin`: the systemd unit per LB host. Checked by systemd itself (systemd-analyze verify and security)
// when it is installed, and structurally always.
import { requireOrSkip } from '../../helpers/cli.js';
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { BINARY, CAPABILITIES, renderUnits, stopTimeoutSeconds } from '../../../src/render/builtin/index.js';
import { RENDERERS } from '../../../src/render/index.js';
import { parseSpec } from '../../../src/spec/load.js';
import type { Spec } from '../../../src/spec/types.js';
import type { UserError } from '../../../src/errors.js';
import { runCli } from '../../helpers/cli.js';

const run = promisify(execFile);
const CONTEXT = { version: '0.0.0-test', specName: 'endpoint.yaml' };
const SPEC = `
cluster: { name: rciis }
endpoint: 192.168.30.30
controlPlane:
  - { name: cp-01, address: 192.168.30.31 }
deregistrationDelay: 30s
vip:
  address: 192.168.30.30
  prefixLength: 24
  interface: ens18
  advertInterval: 100ms
  peers:
    - { name: lb-01, address: 192.168.30.11, priority: 100 }
    - { name: lb-02, address: 192.168.30.12, priority: 90 }
`;

function spec(text = SPEC): Spec {
  const result = parseSpec(text, 'endpoint.yaml');
  assert.ok(result.spec, JSON.stringify(result.problems));
  return result.spec;
}

/** The [Service] keys of a unit, in order (a key may repeat). */
function serviceKeys(unit: string): [string, string][] {
  const section = unit.split('[Service]')[1].split('[Install]')[0];
  return section.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}
const value = (unit: string, key: string) => serviceKeys(unit).filter(([k]) => k === key).map(([, v]) => v);

async function hasSystemdAnalyze(): Promise<boolean> {
  try { await run('systemd-analyze', ['--version']); return true; } catch { return false; }
}

describe('render builtin (systemd unit)', () => {
  const dirs: string[] = [];
  after(async () => { for (const dir of dirs) await rm(dir, { recursive: true, force: true }); });

  it('is registered and writes one unit per peer, each running serve --peer NAME', () => {
    assert.equal(RENDERERS.builtin.target, 'builtin');
    const files = renderUnits(spec(), CONTEXT);
    assert.deepEqual(files.map((f) => f.path), ['lb-01/cluster-endpoint.service', 'lb-02/cluster-endpoint.service']);
    assert.deepEqual(value(files[1].contents, 'ExecStart'), [`${BINARY} serve -c /etc/cluster-endpoint/endpoint.yaml --peer lb-02`]);
    assert.deepEqual(value(files[0].contents, 'ExecStopPost'), ['-/usr/sbin/ip addr del 192.168.30.30/24 dev ens18']);
  });

  it('has the required hardening and lifecycle settings', () => {
    const unit = renderUnits(spec(), CONTEXT)[0].contents;
    const caps = CAPABILITIES.join(' ');
    assert.equal(caps, 'CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_NET_RAW');
    const expected: Record<string, string> = {
      AmbientCapabilities: caps, CapabilityBoundingSet: caps, NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes',
      PrivateTmp: 'yes', DynamicUser: 'yes', RestrictAddressFamilies: 'AF_INET AF_INET6 AF_NETLINK AF_UNIX AF_PACKET',
      ExecReload: '/bin/kill -HUP $MAINPID', KillSignal: 'SIGTERM', Restart: 'always',
    };
    for (const [key, want] of Object.entries(expected)) assert.deepEqual(value(unit, key), [want], key);
    // TimeoutStopSec must outlast the deregistration delay plus the VIP handover.
    const timeout = Number(value(unit, 'TimeoutStopSec')[0]);
    assert.ok(timeout > 30 + 3 * 0.1, `TimeoutStopSec=${timeout}`);
    assert.equal(timeout, stopTimeoutSeconds(spec()));
  });

  it('without vip peers writes one unit without --peer and without the VIP clean-up', () => {
    const files = renderUnits(spec(SPEC.split('vip:')[0]), CONTEXT);
    assert.deepEqual(files.map((f) => f.path), ['cluster-endpoint.service']);
    assert.deepEqual(value(files[0].contents, 'ExecStart'), [`${BINARY} serve -c /etc/cluster-endpoint/endpoint.yaml`]);
    assert.deepEqual(value(files[0].contents, 'ExecStopPost'), []);
  });

  it('passes systemd-analyze verify without a warning, and security rates it OK', async (t) => {
    // Optional by design (the structural tests above always run): CI images may come without systemd.
    if (!requireOrSkip(t, await hasSystemdAnalyze(), 'systemd-analyze is not installed; structural checks only')) return;
    const dir = await mkdtemp(join(tmpdir(), 'ce-unit-'));
    dirs.push(dir);
    // verify checks that ExecStart exists: point it at an executable that does (the unit is otherwise unchanged).
    // With LoadCredential= lines, which systemd-analyze checks too.
    const withKey = SPEC.replace('deregistrationDelay: 30s', 'deregistrationDelay: 30s\nhealthCheck: { type: tls, clientCertificate: { certFile: /etc/cluster-endpoint/client.crt, keyFile: /etc/cluster-endpoint/client.key } }');
    const unit = renderUnits(spec(withKey), { ...CONTEXT, binary: process.execPath })[0].contents;
    assert.equal(value(unit, 'LoadCredential').length, 2);
    assert.match(unit, new RegExp(`^ExecStart=${process.execPath} serve `, 'm'));
    const path = join(dir, 'cluster-endpoint.service');
    await writeFile(path, unit);
    const verify = await run('systemd-analyze', ['verify', path]).then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => e);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), '', 'no warning about any key or value');
    // The check can fail: an unknown key and a bad value are reported.
    const broken = join(dir, 'broken.service');
    await writeFile(broken, unit.replace('ProtectSystem=strict', 'ProtectSystem=stricter\nCapabilitiesBounding=CAP_NET_ADMIN'));
    const bad = await run('systemd-analyze', ['verify', broken]).then((r) => r, (e: { stderr: string }) => e);
    assert.match(bad.stderr, /protect system value/i);
    assert.match(bad.stderr, /Unknown key 'CapabilitiesBounding'/);
    const security = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', path]).then((r) => r, (e: { stdout: string }) => e);
    const exposure = /Overall exposure level for .*?: ([0-9.]+) (\w+)/.exec(security.stdout);
    assert.ok(exposure, security.stdout.slice(-500));
    process.stdout.write(`# systemd-analyze security: exposure ${exposure[1]} ${exposure[2]}\n`);
    assert.ok(Number(exposure[1]) <= 3, `exposure ${exposure[1]} (${exposure[2]}) <= 3.0`);
  });

  it('validates the spec before serve starts, with the same executable, given or looked up by systemd', () => {
    for (const binary of [undefined, '/usr/bin/cluster-endpoint', '/opt/ce/bin/cluster-endpoint']) {
      for (const unit of renderUnits(spec(), { ...CONTEXT, ...(binary ? { binary } : {}) }).map((f) => f.contents)) {
        const executable = binary ?? BINARY;
        assert.deepEqual(value(unit, 'ExecStartPre'), [`${executable} validate -c /etc/cluster-endpoint/endpoint.yaml`]);
        assert.match(value(unit, 'ExecStart')[0], new RegExp(`^${executable} serve -c /etc/cluster-endpoint/endpoint.yaml`));
      }
    }
    assert.equal(BINARY, 'cluster-endpoint', 'a plain name: systemd looks it up in /usr/local/bin and /usr/bin');
  });

  it('never names the cluster in Description= (the packaged unit is rendered from the example spec)', () => {
    fc.assert(fc.property(fc.stringMatching(/^[a-z]{2,12}[0-9]{1,3}(-[a-z]{1,8})?$/), fc.boolean(), (name, withVip) => {
      const text = (withVip ? SPEC : SPEC.split('vip:')[0]).replace('name: rciis', `name: ${name}`);
      for (const file of renderUnits(spec(text), CONTEXT)) {
        const description = /^Description=(.*)$/m.exec(file.contents)?.[1] ?? '';
        assert.ok(!description.includes(name), description);
        assert.match(description, /^cluster-endpoint serve: control-plane load balancer/);
      }
    }), { numRuns: 30 });
  });

  it('with the plain name, systemd-analyze verify finds cluster-endpoint in /usr/local/bin', async (t) => {
    const ok = (await hasSystemdAnalyze()) && process.getuid?.() === 0 && await run('unshare', ['--version']).then(() => true, () => false);
    if (!requireOrSkip(t, ok, 'needs root, unshare and systemd-analyze')) return;
    const dir = await mkdtemp(join(tmpdir(), 'ce-unit-'));
    dirs.push(dir);
    const path = join(dir, 'cluster-endpoint.service');
    await writeFile(path, renderUnits(spec(), CONTEXT)[0].contents);
    const verify = (withBinary: boolean) => run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      // A private /usr/local/bin for this check alone: with cluster-endpoint in it, and without.
      `mount -t tmpfs tmpfs /usr/local/bin && ${withBinary ? 'cp /bin/true /usr/local/bin/cluster-endpoint && ' : ''}exec systemd-analyze verify "$0"`, path])
      .then((r) => ({ code: 0, stderr: r.stderr }), (e: { code: number; stderr: string }) => e);
    const found = await verify(true);
    assert.equal(found.code, 0, found.stderr);
    assert.equal(found.stderr.trim(), '');
    const missing = await verify(false);
    assert.match(missing.stderr, /Command cluster-endpoint is not executable/, 'the check can fail');
  });

  it('`render builtin --binary` takes an absolute path only, and only for builtin', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ce-render-'));
    dirs.push(dir);
    await writeFile(join(dir, 'endpoint.yaml'), SPEC);
    const given = await runCli(['render', 'builtin', '-c', join(dir, 'endpoint.yaml'), '-o', join(dir, 'out'), '--binary', '/usr/bin/cluster-endpoint']);
    assert.equal(given.code, 0, given.stderr);
    const unit = await readFile(join(dir, 'out', 'lb-02', 'cluster-endpoint.service'), 'utf8');
    assert.deepEqual(value(unit, 'ExecStart'), ['/usr/bin/cluster-endpoint serve -c /etc/cluster-endpoint/endpoint.yaml --peer lb-02']);
    const relative = await runCli(['render', 'builtin', '-c', join(dir, 'endpoint.yaml'), '-o', join(dir, 'out'), '--binary', 'bin/cluster-endpoint']);
    assert.equal(relative.code, 2);
    assert.match(relative.stderr, /--binary bin\/cluster-endpoint: systemd needs an absolute path/);
    const elsewhere = await runCli(['render', 'haproxy', '-c', join(dir, 'endpoint.yaml'), '-o', join(dir, 'out'), '--binary', '/usr/bin/cluster-endpoint']);
    assert.equal(elsewhere.code, 2);
    assert.match(elsewhere.stderr, /--binary belongs to the builtin target/);
  });

  it('loads every health check\'s client certificate and key as a systemd credential, named by its file name', () => {
    const withCertificates = `${SPEC.split('vip:')[0]}healthCheck:
  type: https
  clientCertificate: { certFile: /etc/cluster-endpoint/tls/client.crt, keyFile: /etc/cluster-endpoint/tls/client.key }
listeners:
  - { name: kubernetes, port: 6443, targetPort: 6443, targets: controlPlane }
  - name: talos
    port: 50000
    targetPort: 50000
    targets: controlPlane
    healthCheck: { type: tls, clientCertificate: { certFile: /etc/talos/check.pem, keyFile: /etc/talos/check.pem } }
`;
    const unit = renderUnits(spec(withCertificates), CONTEXT)[0].contents;
    assert.deepEqual(value(unit, 'LoadCredential'), [
      'client.crt:/etc/cluster-endpoint/tls/client.crt', 'client.key:/etc/cluster-endpoint/tls/client.key', 'check.pem:/etc/talos/check.pem',
    ]);
    assert.deepEqual(value(renderUnits(spec(), CONTEXT)[0].contents, 'LoadCredential'), [], 'none without client certificates');
    // serve finds a credential by its file name: two files of one name cannot both be loaded; a relative path cannot be loaded.
    const clash = withCertificates.replace('/etc/talos/check.pem, keyFile: /etc/talos/check.pem', '/etc/talos/client.crt, keyFile: /etc/talos/client.key');
    assert.throws(() => renderUnits(spec(clash), CONTEXT), (e: UserError) => e.code === 'RENDER' && /same file name "client\.crt"/.test(e.message) && /different names/.test(e.hint ?? ''));
    const relative = withCertificates.replace('keyFile: /etc/cluster-endpoint/tls/client.key', 'keyFile: tls/client.key');
    assert.throws(() => renderUnits(spec(relative), CONTEXT), (e: UserError) => e.code === 'RENDER' && /keyFile: "tls\/client\.key" is relative/.test(e.message));
  });

  it('`cluster-endpoint render builtin` writes the files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ce-render-'));
    dirs.push(dir);
    await writeFile(join(dir, 'endpoint.yaml'), SPEC);
    const result = await runCli(['render', 'builtin', '-c', join(dir, 'endpoint.yaml'), '-o', join(dir, 'out')]);
    assert.equal(result.code, 0, result.stderr);
    const unit = await readFile(join(dir, 'out', 'lb-01', 'cluster-endpoint.service'), 'utf8');
    assert.match(unit, /--peer lb-01/);
  });
});
