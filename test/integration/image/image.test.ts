// `npm run image`: the OCI archive buildah writes offline, loaded with podman (run exactly as on these machines:
// vfs storage, runc, cgroupfs, explicit ulimits) and run: --version, validate, every engine serve drives present
// with its libraries, and serve with its VIP on two "nodes" (a network namespace each, the container on the
// namespace's network): one holds the VIP, a client reaches the control plane through it, and when that node stops
// its container the other takes the VIP, announces it (gratuitous ARP from the image's arping) and carries clients.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { buildImage, ENGINES, IMAGE_BINARY, IMAGE_SPEC } from '../../../packaging/image.js';
import { requireOrSkip, ROOT } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/net.js';
import { spawnLogged } from '../../helpers/proc.js';
import { canUseNamespaces, Topology } from '../vip/topology.js';

const run = promisify(execFile);

async function installed(program: string): Promise<boolean> {
  return run('sh', ['-c', `command -v ${program}`]).then(() => true, () => false);
}

/** Reads one file of the OCI archive (a tar). */
async function archiveFile(archive: string, path: string): Promise<string> {
  return (await run('tar', ['-xOf', archive, path], { maxBuffer: 4 * 1024 * 1024 })).stdout;
}

test('npm run image: podman runs it — --version, validate, the engines, and serve holding a VIP on two nodes', async (t) => {
  const ok = (await canUseNamespaces()) && (await installed('buildah')) && (await installed('podman')) && (await installed('runc'));
  if (!requireOrSkip(t, ok, 'needs root, network namespaces, buildah, podman and runc')) return;
  const dir = mkdtempSync(join(tmpdir(), 'ce-image-'));
  const storage = join(dir, 'storage');
  const podman = (...args: string[]) => ['podman', '--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', 'vfs',
    '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', ...args];
  const containers: string[] = [];
  t.after(async () => {
    for (const name of containers) await run(podman('rm', '--force', '--time', '0', name)[0], podman('rm', '--force', '--time', '0', name).slice(1)).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const podmanRun = (args: string[]) => {
    const argv = podman('run', '--rm', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=1024:1024', ...args);
    return run(argv[0], argv.slice(1), { maxBuffer: 16 * 1024 * 1024 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  };

  const started = Date.now();
  const image = await buildImage({ out: join(dir, 'out') });
  process.stdout.write(`# npm run image: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  assert.equal(image.version, version);
  assert.match(image.archive, new RegExp(`cluster-endpoint_${version.replaceAll('.', '\\.')}_\\w+\\.oci\\.tar$`));

  // The archive: one manifest, versioned OCI annotations, one gzip layer, the CLI as entrypoint.
  const index = JSON.parse(await archiveFile(image.archive, 'index.json')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0].annotations?.['org.opencontainers.image.ref.name'], `cluster-endpoint:${version}`);
  const blob = (digest: string) => archiveFile(image.archive, `blobs/sha256/${digest.replace('sha256:', '')}`);
  const manifest = JSON.parse(await blob(index.manifests[0].digest)) as { config: { digest: string }; layers: Array<{ mediaType: string; size: number }>; annotations: Record<string, string> };
  assert.equal(manifest.annotations['org.opencontainers.image.version'], version);
  assert.equal(manifest.annotations['org.opencontainers.image.title'], 'cluster-endpoint');
  assert.equal(manifest.annotations['org.opencontainers.image.licenses'], 'Apache-2.0');
  assert.ok(!Number.isNaN(Date.parse(manifest.annotations['org.opencontainers.image.created'])));
  assert.deepEqual(manifest.layers.map((l) => l.mediaType), ['application/vnd.oci.image.layer.v1.tar+gzip']);
  const megabytes = manifest.layers[0].size / 1024 / 1024;
  process.stdout.write(`# image layer: ${megabytes.toFixed(1)} MiB compressed\n`);
  assert.ok(megabytes < 60, `the image stays small: ${megabytes.toFixed(1)} MiB`);
  const config = JSON.parse(await blob(manifest.config.digest)) as { config: { Entrypoint: string[]; Cmd: string[]; Labels: Record<string, string> } };
  assert.deepEqual(config.config.Entrypoint, [IMAGE_BINARY]);
  assert.deepEqual(config.config.Cmd, ['serve', '-c', IMAGE_SPEC]);
  assert.equal(config.config.Labels['org.opencontainers.image.version'], version);

  const load = podman('load', '--input', image.archive);
  assert.match((await run(load[0], load.slice(1))).stdout, new RegExp(`Loaded image: localhost/cluster-endpoint:${version.replaceAll('.', '\\.')}`));
  const tag = `localhost/cluster-endpoint:${version}`;

  const versionRun = await podmanRun([tag, '--version']);
  assert.equal(versionRun.code, 0, versionRun.stderr);
  assert.equal(versionRun.stdout.trim(), version);

  // Each engine serve drives starts inside the image, with its libraries; the licences travel with them.
  const engines = await podmanRun(['--entrypoint', '/bin/sh', tag, '-c',
    'nft --version && conntrack --version && conntrackd -v && ip -V && bird --version && setpriv --version && ndptool --help >/dev/null 2>&1; [ $? -le 1 ] && arping --help >/dev/null 2>&1; [ $? -le 1 ] && while IFS= read -r line; do echo "$line"; done < /usr/share/doc/cluster-endpoint/debian-packages']);
  assert.equal(engines.code, 0, engines.stdout + engines.stderr);
  for (const banner of [/nftables v/, /conntrack v/, /iproute2-/, /BIRD version 2\./, /setpriv from util-linux/]) assert.match(engines.stdout + engines.stderr, banner);
  for (const engine of ENGINES) assert.ok(image.packages.some((p) => p.startsWith(`${engine.debian} `)), `${engine.debian} is listed among the image's packages`);
  assert.match(engines.stdout, /^libc6 /m);

  // validate: the spec mounted where the default command reads it.
  const topology = await Topology.withHosts({ 'lb-01': 11, 'lb-02': 12, 'cp-01': 21 });
  t.after(() => topology.cleanup());
  const vip = topology.address(100);
  const specPath = join(dir, 'endpoint.yaml');
  writeFileSync(specPath, stringify({
    cluster: { name: 'image' }, endpoint: vip,
    controlPlane: [{ name: 'cp-01', address: topology.host('cp-01').address }],
    listeners: [{ name: 'kubernetes', port: 6443, targetPort: 6443, targets: 'controlPlane' }],
    healthCheck: { type: 'tcp', interval: '200ms', timeout: '100ms', healthyThreshold: 1, unhealthyThreshold: 2 },
    deregistrationDelay: '1s',
    balancer: { bind: '0.0.0.0', admin: '127.0.0.1:8404', watch: false },
    vip: {
      address: vip, prefixLength: 24, interface: 'eth0', advertInterval: '100ms', authKey: 'image-test-vip-key',
      peers: [{ name: 'lb-01', address: topology.host('lb-01').address, priority: 100 }, { name: 'lb-02', address: topology.host('lb-02').address, priority: 90 }],
    },
  }));
  const mount = ['--volume', `${specPath}:${IMAGE_SPEC}:ro`];
  const validated = await podmanRun([...mount, tag, 'validate', '-c', IMAGE_SPEC]);
  assert.equal(validated.code, 0, validated.stderr);
  assert.match(validated.stdout, /valid — 1 listener\(s\)/);
  writeFileSync(join(dir, 'bad.yaml'), 'cluster: { name: x }\nendpoint: 10.0.0.1\ncontrolPlane: []\n');
  const invalid = await podmanRun(['--volume', `${join(dir, 'bad.yaml')}:${IMAGE_SPEC}:ro`, tag, 'validate', '-c', IMAGE_SPEC]);
  assert.equal(invalid.code, 2, 'an invalid spec is exit 2 from the container too');
  assert.match(invalid.stderr, /controlPlane: needs at least 1 item/);

  // serve: the default command, on each node's network, with the capabilities the VIP needs.
  const cp = topology.spawn('cp-01', [process.execPath, '-e', "require('net').createServer((s) => { s.on('error', () => {}); s.end('cp-01\\n'); }).listen(6443, '0.0.0.0', () => console.log('listening'));"]);
  await cp.waitForLine((l) => l.text === 'listening');
  // The container joins the node's network namespace itself (--network ns:PATH): under `ip netns exec` runc finds
  // no cgroup mount (that command mounts a /sys of its own).
  const serve = (node: string) => {
    const name = `ce-image-${process.pid}-${node}`;
    containers.push(name);
    const proc = spawnLogged(podman('run', '--rm', '--name', name, '--network', `ns:/run/netns/${topology.host(node).ns}`, '--cap-add', 'NET_ADMIN,NET_RAW',
      '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=1024:1024', ...mount, tag, 'serve', '-c', IMAGE_SPEC, '--peer', node), node);
    t.after(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL'); });
    return proc;
  };
  const lb1 = serve('lb-01');
  assert.ok(await waitFor(async () => (await topology.holdersOf(vip, ['lb-01', 'lb-02'])).join() === 'lb-01', 30_000, 100), lb1.lines.slice(-10).map((l) => l.text).join('\n'));
  const lb2 = serve('lb-02');
  await lb2.waitForLine((l) => l.json?.msg === 'vip transition' && l.json?.to === 'backup', 30_000);
  assert.deepEqual(await topology.holdersOf(vip, ['lb-01', 'lb-02']), ['lb-01'], 'the higher priority keeps the VIP');
  const through = () => topology.exec('cp-01', [process.execPath, '-e', `const s = require('net').connect(6443, '${vip}'); s.setTimeout(2000, () => process.exit(1)); s.on('data', (d) => { process.stdout.write(d); s.end(); });`]);
  assert.equal((await through()).trim(), 'cp-01', 'a client reaches cp-01 through the VIP held by lb-01');
  assert.equal(await topology.neighbourMac('cp-01', vip), topology.host('lb-01').mac);

  // lb-01 stops its container (SIGTERM: a planned handover): lb-02 takes the VIP and announces it.
  const stop = podman('stop', '--time', '20', `ce-image-${process.pid}-lb-01`);
  await run(stop[0], stop.slice(1));
  assert.equal(await lb1.exited, 0, lb1.lines.slice(-10).map((l) => l.text).join('\n'));
  assert.ok(await waitFor(async () => (await topology.holdersOf(vip, ['lb-01', 'lb-02'])).join() === 'lb-02', 10_000, 50), lb2.lines.slice(-10).map((l) => l.text).join('\n'));
  // The client's cached neighbour entry moves to lb-02 without the client asking: the gratuitous ARP came from the image.
  assert.equal(await topology.waitForNeighbourMac('cp-01', vip, topology.host('lb-02').mac, 5000), topology.host('lb-02').mac);
  assert.equal((await through()).trim(), 'cp-01', 'and clients reach cp-01 through lb-02');
  const stop2 = podman('stop', '--time', '20', `ce-image-${process.pid}-lb-02`);
  await run(stop2[0], stop2.slice(1));
  assert.equal(await lb2.exited, 0);
  assert.deepEqual(await topology.holdersOf(vip, ['lb-01', 'lb-02']), [], 'a planned stop releases the VIP');
});
