// `npm run package`, then the Debian package as an operator gets it: installed with dpkg into a scratch root
// that holds nothing but a shell, rm/rmdir and the C libraries the executable links against (no Node.js
// anywhere in it), every command run from /usr/bin/cluster-endpoint inside a chroot of that root, the conffile
// kept across an upgrade, and the package removed and purged again; lintian's verdict; and the README, read top
// to bottom in a fresh shell outside the checkout, on each of its install routes.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import { buildPackage, type BuildResult } from '../../../packaging/build.js';
import { CONTROL_RELATIONS } from '../../../packaging/debian.js';
import { exchange, specFor, startBackends } from '../../helpers/backends.js';
import { requireOrSkip, ROOT } from '../../helpers/cli.js';
import { freePort, waitFor } from '../../helpers/net.js';
import { batch } from '../../helpers/lab-peers.js';
import { KernelLab, PORT as KERNEL_PORT } from '../kernel/lab.js';
import { canUseNamespaces, Topology } from '../vip/topology.js';
import { Lab } from '../../helpers/lab.js';
import { createCa, issueCertificate } from '../../../src/tls/certs.js';
import { ReadmeSession, shellBlocks, WORKDIR } from './readme.js';

const run = promisify(execFile);

/** One `npm run package` for the tests of this file. */
let packaged: Promise<BuildResult> | undefined;
const packageDir = mkdtempSync(join(tmpdir(), 'ce-package-'));
after(() => rmSync(packageDir, { recursive: true, force: true }));
function buildOnce(): Promise<BuildResult> {
  packaged ??= buildPackage({ out: packageDir });
  return packaged;
}

async function which(command: string): Promise<string | undefined> {
  try { return (await run('sh', ['-c', `command -v ${command}`])).stdout.trim() || undefined; } catch { return undefined; }
}

/**
 * A root with /bin/sh, rm, rmdir (and `extraTools`), the libraries they and `executable` need, /dev/null,
 * /dev/urandom, /tmp and an empty dpkg database.
 */
async function scratchRoot(executable: string, extraTools: string[] = []): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'ce-root-'));
  for (const dir of ['bin', 'tmp', 'dev', 'etc', 'var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/lib/dpkg/triggers']) mkdirSync(join(root, dir), { recursive: true });
  await run('chmod', ['1777', join(root, 'tmp')]);
  writeFileSync(join(root, 'var/lib/dpkg/status'), '');
  writeFileSync(join(root, 'var/lib/dpkg/available'), '');
  const tools = ['/bin/sh', '/bin/rm', '/bin/rmdir', ...extraTools];
  for (const tool of tools) copyFileSync(tool, join(root, 'bin', tool.split('/').pop()!));
  const libraries = new Set<string>();
  for (const binary of [...tools, executable]) {
    for (const match of (await run('ldd', [binary])).stdout.matchAll(/(\/\S+\.so[^\s]*)/g)) libraries.add(match[1]);
  }
  for (const library of libraries) {
    mkdirSync(join(root, dirname(library)), { recursive: true });
    copyFileSync(library, join(root, library));
  }
  await run('mknod', ['-m', '666', join(root, 'dev/null'), 'c', '1', '3']);
  await run('mknod', ['-m', '666', join(root, 'dev/urandom'), 'c', '1', '9']);
  return root;
}

test('the Debian package: installs into a scratch root, every command runs there without Node, the spec survives an upgrade, removal and purge clean up', async (t) => {
  const chroot = await which('chroot');
  const ok = process.getuid?.() === 0 && chroot !== undefined && (await which('dpkg-deb')) !== undefined && (await which('dpkg')) !== undefined;
  if (!requireOrSkip(t, ok, 'needs root, dpkg, dpkg-deb and chroot')) return;

  const built = await buildOnce();
  assert.ok(built.deb && existsSync(built.deb), 'npm run package wrote the .deb');
  // xz inside: dpkg reads it on every Debian and Ubuntu (zstd only from Debian 12).
  assert.deepEqual((await run('ar', ['t', built.deb!])).stdout.trim().split('\n'), ['debian-binary', 'control.tar.xz', 'data.tar.xz']);
  const fields = async (field: string) => (await run('dpkg-deb', ['-f', built.deb!, field])).stdout.trim();
  for (const line of (await run('dpkg-deb', ['-f', built.deb!, 'Description'])).stdout.split('\n')) assert.ok(line.length <= 80, `Description line of ${line.length} characters: ${line}`);
  for (const [field, value] of Object.entries(CONTROL_RELATIONS)) assert.equal(await fields(field), value);
  for (const tool of ['iproute2', 'arping', 'libndp-tools']) assert.match(await fields('Recommends'), new RegExp(tool));
  for (const tool of ['nftables', 'conntrack']) assert.match(await fields('Suggests'), new RegExp(tool));

  const root = await scratchRoot(built.executable);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dpkg = (...args: string[]) => run('dpkg', [`--root=${root}`, '--force-depends', ...args]);
  // Inside the root: PATH has only its own /usr/bin and /bin, and no node exists at all.
  const env = { PATH: '/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8' };
  const inRoot = (args: string[]) => run(chroot!, [root, ...args], { env }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
  const cli = (...args: string[]) => inRoot(['/usr/bin/cluster-endpoint', ...args]);

  const installed = await dpkg('-i', built.deb!);
  assert.match(installed.stdout, /Setting up cluster-endpoint \(/);
  assert.match(installed.stdout, /edit \/etc\/cluster-endpoint\/endpoint\.yaml/, 'a first install starts nothing and says what to do');
  assert.equal((await inRoot(['/bin/sh', '-c', 'command -v node'])).code, 127, 'no node in the root');
  const unit = readFileSync(join(root, 'lib/systemd/system/cluster-endpoint.service'), 'utf8');
  assert.match(unit, /^ExecStartPre=\/usr\/bin\/cluster-endpoint validate -c \/etc\/cluster-endpoint\/endpoint\.yaml$/m, 'the unit validates the spec before serve starts');
  assert.match(unit, /^ExecStart=\/usr\/bin\/cluster-endpoint serve -c \/etc\/cluster-endpoint\/endpoint\.yaml$/m);
  assert.match(unit, /^AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_NET_RAW$/m);
  assert.doesNotMatch(/^Description=.*$/m.exec(unit)![0], /rciis/, 'the unit does not name the example\'s cluster');
  // One unit, one source: render builtin on the installed host writes the packaged unit (only its comments differ).
  const renderedUnit = await cli('render', 'builtin', '-c', '/etc/cluster-endpoint/endpoint.yaml', '-o', '/tmp/unit', '--binary', '/usr/bin/cluster-endpoint');
  assert.equal(renderedUnit.code, 0, renderedUnit.stderr);
  const settings = (text: string) => text.split('\n').filter((line) => !line.startsWith('#'));
  assert.deepEqual(settings(readFileSync(join(root, 'tmp/unit/cluster-endpoint.service'), 'utf8')), settings(unit));
  // The packaged spec's $schema names a file the package installs: the schema of this version.
  const modeline = /^# yaml-language-server: \$schema=(.+)$/m.exec(readFileSync(join(root, 'etc/cluster-endpoint/endpoint.yaml'), 'utf8'));
  assert.ok(modeline, 'the packaged spec has a $schema line');
  const schemaPath = join(root, resolve('/etc/cluster-endpoint', modeline[1]));
  assert.ok(existsSync(schemaPath), `${modeline[1]} (from /etc/cluster-endpoint) is installed`);
  assert.equal(readFileSync(schemaPath, 'utf8'), readFileSync(join(ROOT, 'schema/endpoint.schema.json'), 'utf8'));
  // The changelog Debian wants and the licences of everything inside the executable.
  const changelog = gunzipSync(readFileSync(join(root, 'usr/share/doc/cluster-endpoint/changelog.gz'))).toString();
  assert.match(changelog, new RegExp(`^cluster-endpoint \\(${built.version.replaceAll('.', '\\.')}\\) `));
  const copyright = readFileSync(join(root, 'usr/share/doc/cluster-endpoint/copyright'), 'utf8');
  assert.equal(copyright, built.copyright);
  for (const bundled of ['yaml', 'pino', 'commander', 'ajv', '@sinclair/typebox', 'prom-client', '@cdktn/hcl2json', '@bomb.sh/tab']) {
    assert.match(copyright, new RegExp(`^Files: node_modules/${bundled.replace('.', '\\.')}/\\*\nCopyright: .+\n(Comment: .+\n)?License: \\S+\n .+`, 'm'), bundled);
  }
  assert.match(copyright, new RegExp(`^Files: node-${process.version.replaceAll('.', '\\.')}/\\*$`, 'm'));
  assert.match(copyright, /Permission is hereby granted/, 'licence texts are quoted in full');
  for (const path of ['usr/share/bash-completion/completions/cluster-endpoint', 'usr/share/zsh/vendor-completions/_cluster-endpoint', 'usr/share/fish/vendor_completions.d/cluster-endpoint.fish']) {
    assert.match(readFileSync(join(root, path), 'utf8'), /cluster-endpoint complete --/, path);
  }

  // validate: the example spec is valid, a broken one is exit 2 with the problem.
  const valid = await cli('validate', '-c', '/etc/cluster-endpoint/endpoint.yaml');
  assert.equal(valid.code, 0, valid.stderr);
  assert.match(valid.stdout, /valid — 3 listener\(s\)/);
  writeFileSync(join(root, 'tmp/bad.yaml'), 'cluster: { name: x }\nendpoint: 10.0.0.1\ncontrolPlane: []\n');
  const invalid = await cli('validate', '-c', '/tmp/bad.yaml');
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /controlPlane: needs at least 1 item/);
  assert.equal((await cli('--version')).stdout.trim(), built.version);
  assert.equal((await cli('validate', '--bogus')).code, 2);

  // Commands that need the data files a dependency reads at run time: doctor on Terraform (hcl2json's WebAssembly
  // parser, an SEA asset), render (every target), completion.
  copyFileSync(join(ROOT, 'test/fixtures/doctor/bad/preserve-client-ip.tf'), join(root, 'tmp/main.tf'));
  const doctor = await cli('doctor', '/tmp/main.tf');
  assert.match(doctor.stdout, /preserve_client_ip/, doctor.stderr);
  assert.match(doctor.stdout, /\(terraform\)/);
  const rendered = await cli('render', 'prometheus', '-c', '/etc/cluster-endpoint/endpoint.yaml', '-o', '/tmp/rendered');
  assert.equal(rendered.code, 0, rendered.stderr);
  assert.ok(existsSync(join(root, 'tmp/rendered/cluster-endpoint.rules.yml')));
  assert.match((await cli('completion', 'bash')).stdout, /complete -o default -F __cluster_endpoint_complete cluster-endpoint/);

  // A short serve from the installed binary, in front of two backends on loopback (the chroot shares the network).
  const backends = await startBackends(['cp-01', 'cp-02']);
  t.after(() => Promise.all(backends.map((b) => b.close())));
  const port = await freePort();
  const adminPort = await freePort();
  writeFileSync(join(root, 'tmp/endpoint.yaml'), stringify(specFor({ port, adminPort, backends, healthCheck: { type: 'tcp', healthyThreshold: 1 } })));
  const serve = spawn(chroot!, [root, '/usr/bin/cluster-endpoint', 'serve', '-c', '/tmp/endpoint.yaml'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  serve.stdout.on('data', (d) => { log += d; });
  serve.stderr.on('data', (d) => { log += d; });
  const exited = new Promise<number | null>((resolve) => serve.on('exit', (code) => resolve(code)));
  t.after(() => { if (serve.exitCode === null) serve.kill('SIGKILL'); });
  assert.ok(await waitFor(() => log.split('"to":"up"').length > 2, 15_000), log);
  assert.match(log, /"dataPlane":"proxy, handles engine"/, 'the libuv handles engine works inside the executable');
  assert.match(await exchange(port, 'hello'), /^cp-0[12]:hello$/);
  const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  assert.match(metrics, /^haproxy_backend_active_servers\{proxy="kubernetes"\} 2$/m);
  const status = await cli('status', '-c', '/tmp/endpoint.yaml');
  assert.match(status.stdout, /^kubernetes\s+cp-01\s+127\.0\.0\.\d+:\d+\s+up/m, status.stderr);
  // The stand-in backends speak plain TCP, not TLS: probe connects to each and says the endpoint is not usable.
  const probe = await cli('probe', '-c', '/tmp/endpoint.yaml', '--json');
  assert.equal(probe.code, 1, probe.stderr);
  const rows = (JSON.parse(probe.stdout) as { rows: Array<{ name: string; tcp: { ok: boolean } }> }).rows;
  assert.deepEqual(rows.map((r) => [r.name, r.tcp.ok]), [['endpoint', true], ['cp-01', true], ['cp-02', true]]);
  // A reload parses the new spec on a worker thread, which the executable starts from its own code.
  const spec2 = specFor({ port, adminPort, backends: backends.slice(0, 1), healthCheck: { type: 'tcp', healthyThreshold: 1 } });
  writeFileSync(join(root, 'tmp/endpoint.yaml'), stringify(spec2));
  serve.kill('SIGHUP');
  assert.ok(await waitFor(() => /"event":"reload","ok":true/.test(log), 15_000), log);
  serve.kill('SIGTERM');
  assert.equal(await exited, 0, log);

  // demo: the simulated nodes' certificates come from a library only the demo uses.
  const demo = await cli('demo', '--free-ports', '--no-input', '--duration', '2s');
  assert.equal(demo.code, 0, demo.stderr);
  assert.match(demo.stdout, /ready: 3\/3 kubernetes servers up/);

  // An upgrade (the same package again) keeps the operator's spec: it is a conffile.
  const spec = join(root, 'etc/cluster-endpoint/endpoint.yaml');
  const edited = `${readFileSync(spec, 'utf8')}# edited by the operator\n`;
  writeFileSync(spec, edited);
  await dpkg('-i', built.deb!);
  assert.equal(readFileSync(spec, 'utf8'), edited);

  // remove keeps the configuration; purge removes it, the environment file with the VIP key, and the directory.
  writeFileSync(join(root, 'etc/cluster-endpoint/env'), 'CLUSTER_ENDPOINT_VIP_KEY=package-test-key\n', { mode: 0o600 });
  await dpkg('-r', 'cluster-endpoint');
  assert.equal(existsSync(join(root, 'usr/bin/cluster-endpoint')), false);
  assert.equal(existsSync(join(root, 'lib/systemd/system/cluster-endpoint.service')), false);
  assert.equal(readFileSync(spec, 'utf8'), edited);
  assert.ok(existsSync(join(root, 'etc/cluster-endpoint/env')), 'remove keeps the environment file');
  await dpkg('--purge', 'cluster-endpoint');
  assert.equal(existsSync(join(root, 'etc/cluster-endpoint/env')), false, 'purge removes the environment file');
  assert.equal(existsSync(join(root, 'etc/cluster-endpoint')), false);
  assert.doesNotMatch((await run('dpkg', [`--root=${root}`, '-l'])).stdout, /cluster-endpoint/);
});

test('lintian finds no error in the package (what it cannot change is overridden, with the reason)', async (t) => {
  const ok = (await which('lintian')) !== undefined && (await which('dpkg-deb')) !== undefined;
  if (!requireOrSkip(t, ok, 'needs lintian and dpkg-deb')) return;
  const built = await buildOnce();
  const lintian = await run('lintian', ['--tag-display-limit', '0', built.deb!], { maxBuffer: 16 * 1024 * 1024 }).then((r) => r, (e: { stdout: string; stderr: string }) => e);
  const errors = lintian.stdout.split('\n').filter((line) => line.startsWith('E: '));
  assert.deepEqual(errors, [], lintian.stdout + lintian.stderr);
  assert.doesNotMatch(lintian.stdout, /malformed-deb-archive|no-changelog|unstripped-binary-or-object|copyright-without-copyright-notice|extended-description-line-too-long/);
});

test('the installed executable holds the VIP: serve in a network namespace of its own, ip and arping from the root', async (t) => {
  const chroot = await which('chroot');
  const ip = await which('ip');
  const arping = await which('arping');
  const ok = (await canUseNamespaces()) && chroot !== undefined && ip !== undefined && arping !== undefined && (await which('dpkg-deb')) !== undefined;
  if (!requireOrSkip(t, ok, 'needs root, network namespaces, dpkg, chroot, ip and arping')) return;
  const built = await buildOnce();
  // The package's Recommends (iproute2, arping), as apt would install them next to it.
  const root = await scratchRoot(built.executable, [ip!, arping!]);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  await run('dpkg', [`--root=${root}`, '--force-depends', '-i', built.deb!]);

  const topology = await Topology.withHosts({ 'lb-01': 11, 'cp-01': 21 });
  t.after(() => topology.cleanup());
  const vip = topology.address(100);
  const cp = topology.spawn('cp-01', [process.execPath, '-e', "require('net').createServer((s) => { s.on('error', () => {}); s.end('cp-01\\n'); }).listen(6443, '0.0.0.0', () => console.log('listening'));"]);
  await cp.waitForLine((l) => l.text === 'listening');
  writeFileSync(join(root, 'tmp/vip.yaml'), stringify({
    cluster: { name: 'package-vip' }, endpoint: vip,
    controlPlane: [{ name: 'cp-01', address: topology.host('cp-01').address }],
    healthCheck: { type: 'tcp', interval: '200ms', timeout: '100ms', healthyThreshold: 1, unhealthyThreshold: 2 },
    deregistrationDelay: '1s',
    balancer: { bind: '0.0.0.0', admin: '127.0.0.1:8404', watch: false },
    vip: { address: vip, prefixLength: 24, interface: 'eth0', advertInterval: '100ms', authKey: 'package-vip-test-key', peers: [{ name: 'lb-01', address: topology.host('lb-01').address, priority: 100 }] },
  }));
  const serve = topology.spawn('lb-01', [chroot!, root, '/usr/bin/cluster-endpoint', 'serve', '-c', '/tmp/vip.yaml', '--peer', 'lb-01'], { env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' } });
  assert.ok(await waitFor(async () => (await topology.holdersOf(vip, ['lb-01'])).length === 1, 15_000, 100), serve.lines.slice(-10).map((l) => l.text).join('\n'));
  const reply = await topology.exec('cp-01', [process.execPath, '-e', `const s = require('net').connect(6443, '${vip}'); s.on('data', (d) => { process.stdout.write(d); s.end(); });`]);
  assert.equal(reply.trim(), 'cp-01', 'a client reaches cp-01 through the VIP');
  serve.child.kill('SIGTERM');
  assert.equal(await serve.exited, 0);
  assert.deepEqual(await topology.holdersOf(vip, ['lb-01']), [], 'a planned stop releases the VIP');
});

test('the installed executable runs the kernel data plane: nft and conntrack from the root, flows balanced, the table removed at stop', async (t) => {
  const chroot = await which('chroot');
  const tools = await Promise.all(['nft', 'conntrack'].map(which));
  const ok = (await canUseNamespaces()) && chroot !== undefined && tools.every(Boolean) && (await which('dpkg-deb')) !== undefined && (await which('unshare')) !== undefined;
  if (!requireOrSkip(t, ok, 'needs root, network namespaces, dpkg, chroot, unshare, nft and conntrack')) return;
  const built = await buildOnce();
  // The package's Suggests (nftables, conntrack), as apt would install them next to it.
  const root = await scratchRoot(built.executable, tools as string[]);
  t.after(() => rmSync(root, { recursive: true, force: true }));
  await run('dpkg', [`--root=${root}`, '--force-depends', '-i', built.deb!]);

  const kernel = await KernelLab.create();
  t.after(() => kernel.cleanup());
  writeFileSync(join(root, 'tmp/kernel.yaml'), stringify(kernel.spec({ balancer: { preserveClientIp: false } })));
  // serve reads net.ipv4.ip_forward from /proc, as on any installed host: a /proc of its own in a private mount namespace.
  mkdirSync(join(root, 'proc'), { recursive: true });
  const serve = kernel.lab.spawn('lb', ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount -t proc proc ${root}/proc && exec ${chroot} ${root} /usr/bin/cluster-endpoint serve -c /tmp/kernel.yaml`], { env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' } });
  await serve.waitForLine((l) => l.json?.event === 'started', 30_000);
  await kernel.waitForStates({ 'cp-01': 'up', 'cp-02': 'up', 'cp-03': 'up' });
  assert.match(await kernel.table() ?? '', /table inet cluster_endpoint/);
  const replies = await batch(kernel.lab, 'client', kernel.endpoint, KERNEL_PORT, 6);
  assert.deepEqual([...new Set(replies.map((r) => r.split(' ')[0]))].sort(), ['cp-01', 'cp-02', 'cp-03'], replies.join('\n'));
  serve.child.kill('SIGTERM');
  assert.equal(await serve.exited, 0);
  assert.equal(await kernel.table(), undefined, 'a stop removes our table');
});

/** Commands the README starts in the background, and what a reader waits for before typing the next line. */
const BACKGROUND: Array<{ command: RegExp; ready: (spec: string | undefined) => RegExp[] }> = [
  // serve is ready when it has started and, with a vip: section, holds the VIP (it is the only peer up).
  { command: /\bcluster-endpoint serve\b/, ready: (spec) => [/"event":"started"/, ...(spec && /^vip:/m.test(spec) ? [/^(?=.*"msg":"vip transition")(?=.*"to":"master").*$/m] : [])] },
];

/** The release file an install line names (`./cluster-endpoint-*.tgz`, `cluster-endpoint`, `./…_amd64.deb`). */
function releaseFileOf(line: string, files: string[]): string {
  const tokens = line.split('#')[0].split(/\s+/).filter(Boolean).map((t) => t.replace(/^\.\//, ''));
  const matches = files.filter((file) => tokens.some((token) => new RegExp(`^${token.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`).test(basename(file))));
  assert.equal(matches.length, 1, `the install line "${line}" names one release file of ${files.map((f) => basename(f)).join(', ')}`);
  return matches[0];
}

test('the README, top to bottom in a fresh shell outside the checkout: each install line, then the tour on the first', async (t) => {
  const ok = (await canUseNamespaces()) && (await which('unshare')) !== undefined && (await which('chroot')) !== undefined
    && (await which('dpkg-deb')) !== undefined && (await which('apt-get')) !== undefined && (await which('npm')) !== undefined && (await which('openssl')) !== undefined;
  if (!requireOrSkip(t, ok, 'needs root, network namespaces, unshare, chroot, dpkg, apt, npm and openssl')) return;
  const blocks = shellBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const install = blocks.filter((b) => b.section === 'Install');
  const tour = blocks.filter((b) => b.section === 'A five-minute tour');
  assert.equal(install.length, 2, 'Install: how to build the release files in a checkout, then how to install one of them');
  assert.ok(tour.length >= 4, 'the tour has its commands');
  for (const block of [...install, ...tour]) for (const command of block.commands) assert.doesNotMatch(command, /\bnpx\b|npm (install|i) -g cluster-endpoint\b/, 'nothing from a registry name we do not own');

  // The release files, made in the checkout by the README's own build line: npm pack, npm run package.
  const [build] = install[0].commands;
  assert.match(build, /\bnpm pack\b/);
  assert.match(build, /\bnpm run package\b/);
  const built = await buildOnce();
  const releases = mkdtempSync(join(tmpdir(), 'ce-release-'));
  t.after(() => rmSync(releases, { recursive: true, force: true }));
  await run('npm', ['pack', '--pack-destination', releases], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const files = [built.executable, built.deb!, ...readdirSync(releases).filter((f) => f.endsWith('.tgz')).map((f) => join(releases, f))];

  // The reference guide's cluster, in namespaces: the LB host lb-01 and stand-ins for the nodes, each answering like
  // kube-apiserver and apid over TLS with certificates that also name the endpoint.
  const lab = await Lab.create({ segments: { lan: 1 }, hosts: { lb: { lan: 11 }, 'cp-01': { lan: 31 }, 'cp-02': { lan: 32 }, 'cp-03': { lan: 33 }, 'wk-01': { lan: 41 } } }, 'cereadme');
  t.after(() => lab.cleanup());
  const ca = await createCa('README test CA');
  for (const [host, last] of [['lb', 11], ['cp-01', 31], ['cp-02', 32], ['cp-03', 33], ['wk-01', 41]] as const) {
    const address = `192.168.30.${last}`;
    await lab.exec(host, ['ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    if (host === 'lb') continue;
    const pair = await issueCertificate(ca, { commonName: host, sans: [address, '192.168.30.30'] });
    const node = lab.spawn(host, [process.execPath, '--import', 'tsx', join(ROOT, 'test/integration/package/readme-node.ts'), JSON.stringify({ name: host, address, ...pair })], { env: { NODE_OPTIONS: '' } });
    await node.waitForLine((l) => l.text === 'listening', 30_000);
  }

  const sessions: ReadmeSession[] = [];
  t.after(async () => { for (const session of sessions) await session.remove(); });
  const expectOk = async (session: ReadmeSession, command: string, timeoutMs?: number) => {
    const result = await session.run(command, timeoutMs);
    assert.equal(result.code, 0, `\`${command}\` exited ${result.code}:\n${result.output.slice(-4000)}`);
    return result.output;
  };

  const installLines = install[1].commands;
  assert.equal(installLines.length, 3, 'three ways to install: the npm tarball, the executable, the .deb');
  // Each way in a fresh copy of this machine, in its own network namespace (npm fetches the tarball's dependencies
  // from the registry): the command is there afterwards and runs.
  const installed: ReadmeSession[] = [];
  for (const line of installLines) {
    const file = releaseFileOf(line, files);
    const session = await ReadmeSession.start(undefined, { files: { [file]: basename(file) } });
    sessions.push(session);
    installed.push(session);
    await expectOk(session, line, 180_000);
    assert.equal((await expectOk(session, 'cluster-endpoint --version')).trim(), built.version, line);
    if (file.endsWith('.deb')) assert.match(await expectOk(session, 'cluster-endpoint validate -c /etc/cluster-endpoint/endpoint.yaml'), /valid — /);
    await session.stop();
  }

  // The tour, command by command, in a fresh shell on the first way's copy, on lb-01 of the guide's cluster.
  const session = await ReadmeSession.start({ lab, host: 'lb' }, { copy: installed[0].copy });
  sessions.push(session);
  for (const command of tour.flatMap((b) => b.commands)) {
    const from = session.output.length;
    const output = await expectOk(session, command);
    const background = BACKGROUND.find((b) => b.command.test(command));
    if (/&\s*(#.*)?$/.test(command)) {
      assert.ok(background, `the README starts \`${command}\` in the background: tell this test what to wait for`);
      for (const ready of background.ready(await session.file(`${WORKDIR}/endpoint.yaml`))) await session.waitForOutput(ready, from, 60_000, `\`${command}\`: ${ready}`);
    }
    if (/^cluster-endpoint demo\b/.test(command)) assert.match(output, /tour done/);
    if (/^cluster-endpoint validate\b/m.test(command)) assert.match(output, /valid — 3 listener\(s\)/);
    if (/^cluster-endpoint watch\b/.test(command)) assert.match(output, /^summary: /m);
  }
  // serve outlived the README's kill -HUP: probe and watch, after it, went through the endpoint it holds.
  assert.match(session.output, /endpoint usable/);
});
