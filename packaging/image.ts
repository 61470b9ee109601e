// `npm run image`: an OCI image of serve, built offline with Debian's buildah from nothing (`FROM scratch`): the
// single executable, the programs serve drives (ip, arping, ndptool, nft, conntrack, conntrackd, bird, and the sh
// and setpriv it starts them through), every library they link (found with ldd), the data files they read at run
// time, and the licences of all of it. The entrypoint is the CLI; the default command serves the spec mounted at
// /etc/cluster-endpoint/endpoint.yaml.
//
//   node --import tsx packaging/image.ts [--out DIR]
//
// Output (default dist/image/): cluster-endpoint_<version>_<arch>.oci.tar, an OCI archive
// (`podman load -i FILE`, `skopeo copy oci-archive:FILE …`).
import { execFile } from 'node:child_process';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { arch } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { buildPackage } from './build.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

export const IMAGE_NAME = 'cluster-endpoint';
/** Where the executable sits in the image. */
export const IMAGE_BINARY = '/usr/bin/cluster-endpoint';
export const IMAGE_SPEC = '/etc/cluster-endpoint/endpoint.yaml';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The programs serve runs, each with what it is for. All must be installed on the build machine (Debian packages in
 * brackets); the image is useless for a VIP, the kernel data plane or BGP without them.
 */
export const ENGINES: ReadonlyArray<{ program: string; debian: string; for: string }> = [
  { program: 'sh', debian: 'dash', for: 'the VIP runs ip and arping through one long-lived shell' },
  { program: 'setpriv', debian: 'util-linux', for: 'conntrackd and bird die with serve (--pdeathsig)' },
  { program: 'ip', debian: 'iproute2', for: 'the VIP address, the BGP loopback address' },
  { program: 'arping', debian: 'arping', for: 'gratuitous ARP when the VIP moves (IPv4)' },
  { program: 'ndptool', debian: 'libndp-tools', for: 'unsolicited neighbour advertisements when the VIP moves (IPv6)' },
  { program: 'nft', debian: 'nftables', for: 'the kernel data plane' },
  { program: 'conntrack', debian: 'conntrack', for: 'the kernel data plane: flows per server, flushing a removed server' },
  { program: 'conntrackd', debian: 'conntrackd', for: 'vip.sync: flow state shared between LB hosts' },
  { program: 'bird', debian: 'bird2', for: 'bgp: the BGP speaker' },
];

/** Data files the engines read at run time (not linked, so ldd cannot find them). */
const DATA = ['/etc/iproute2', '/etc/protocols', '/etc/services'];

/**
 * Names for user and group ids 0 and 65534: arping drops its privileges to "nobody" after opening its socket, and
 * podman's `--user nobody` needs the name. Nothing else in the image looks a user up.
 */
const PASSWD = 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
const GROUP = 'root:x:0:\nnogroup:x:65534:\n';
const NSSWITCH = 'passwd: files\ngroup: files\nhosts: files dns\nservices: files\nprotocols: files\n';

export interface ImageResult {
  archive: string;
  version: string;
  /** The image's annotations (also its labels). */
  annotations: Record<string, string>;
  /** Debian packages whose files the image carries, "name version". */
  packages: string[];
}

export async function buildImage(options: { out?: string } = {}): Promise<ImageResult> {
  const out = resolve(options.out ?? join(ROOT, 'dist/image'));
  await mkdir(out, { recursive: true });
  const work = await mkdtemp(join(out, 'work-'));
  try {
    const built = await buildPackage({ out: join(work, 'package'), deb: false });
    const rootfs = join(work, 'rootfs');
    const packages = await stageRootfs(rootfs, built.executable, built.copyright);
    const annotations = await imageAnnotations(built.version);
    const archive = join(out, `${IMAGE_NAME}_${built.version}_${goArch()}.oci.tar`);
    await rm(archive, { force: true });
    await buildahCommit(rootfs, archive, `${IMAGE_NAME}:${built.version}`, annotations, join(work, 'storage'));
    return { archive, version: built.version, annotations, packages };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The image's file tree; returns the Debian packages (name and version) its files come from. */
async function stageRootfs(rootfs: string, executable: string, copyright: string): Promise<string[]> {
  // The same merged-/usr layout as the build machine (/bin → usr/bin, /lib → usr/lib, …), so paths ldd prints resolve.
  for (const name of await readdir('/')) {
    const info = await lstat(join('/', name));
    if (info.isSymbolicLink()) await placeLink(join(rootfs, name), await readlink(join('/', name)));
  }
  for (const dir of ['tmp', 'etc/cluster-endpoint', 'run/cluster-endpoint', 'usr/share/doc/cluster-endpoint', 'usr/bin']) await mkdir(join(rootfs, dir), { recursive: true });
  await chmod(join(rootfs, 'tmp'), 0o1777);
  // serve's run directory for conntrackd and bird (RUNTIME_DIRECTORY under systemd).
  await chmod(join(rootfs, 'run/cluster-endpoint'), 0o700);

  await copyFile(executable, join(rootfs, IMAGE_BINARY));
  await chmod(join(rootfs, IMAGE_BINARY), 0o755);
  await writeFile(join(rootfs, 'usr/share/doc/cluster-endpoint/copyright'), copyright);

  const programs: string[] = [];
  for (const engine of ENGINES) {
    const path = await which(engine.program);
    if (!path) throw new Error(`${engine.program} is not installed (Debian: ${engine.debian}); the image needs it for ${engine.for}`);
    programs.push(path);
  }
  const libraries = new Set<string>();
  for (const binary of [executable, ...programs]) for (const library of await linkedLibraries(binary)) libraries.add(library);
  const files = [...programs, ...libraries];
  for (const file of files) await place(rootfs, file);
  for (const data of DATA) await placeTree(rootfs, data);
  await writeFile(join(rootfs, 'etc/passwd'), PASSWD);
  await writeFile(join(rootfs, 'etc/group'), GROUP);
  await writeFile(join(rootfs, 'etc/nsswitch.conf'), NSSWITCH);

  // The licence of every Debian package a file comes from, and the list of them (name and version, so the sources
  // can be found: GPL programs are among them).
  const owners = await debianOwners([...files, ...DATA]);
  for (const name of owners.keys()) {
    const from = `/usr/share/doc/${name}/copyright`;
    await mkdir(join(rootfs, dirname(from)), { recursive: true });
    await copyFile(from, join(rootfs, from)).catch(() => undefined);
  }
  const packages = [...owners].map(([name, version]) => `${name} ${version}`).sort();
  await writeFile(join(rootfs, 'usr/share/doc/cluster-endpoint/debian-packages'),
    `# The Debian packages the programs and libraries in this image were copied from (their licences: /usr/share/doc/NAME/copyright).\n${packages.join('\n')}\n`);
  return packages;
}

async function which(program: string): Promise<string | undefined> {
  try {
    return (await run('sh', ['-c', `command -v ${program}`], { env: { PATH } })).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Every absolute path in ldd's answer: the libraries and the program interpreter. */
async function linkedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run('ldd', [binary]);
  return [...stdout.matchAll(/(?:=>\s+|^\s*)(\/\S+)/gm)].map((m) => m[1]);
}

/**
 * Copies `path` into the root as the host resolves it: each symbolic link on the way (libfoo.so.1 → libfoo.so.1.2,
 * /usr/lib64/ld-linux… → ../lib/…) is recreated, then the file itself.
 */
async function place(rootfs: string, path: string): Promise<void> {
  let current = join(await realpath(dirname(path)), path.split('/').pop()!);
  for (let hops = 0; hops < 16; hops++) {
    const info = await lstat(current);
    if (!info.isSymbolicLink()) {
      await mkdir(join(rootfs, dirname(current)), { recursive: true });
      await copyFile(current, join(rootfs, current));
      await chmod(join(rootfs, current), info.mode & 0o7777);
      return;
    }
    const target = await readlink(current);
    await placeLink(join(rootfs, current), target);
    const next = resolve(dirname(current), target);
    current = join(await realpath(dirname(next)), next.split('/').pop()!);
  }
  throw new Error(`${path}: too many symbolic links`);
}

async function placeTree(rootfs: string, path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) return place(rootfs, path);
  await mkdir(join(rootfs, path), { recursive: true });
  for (const name of await readdir(path)) await placeTree(rootfs, join(path, name));
}

async function placeLink(at: string, target: string): Promise<void> {
  await mkdir(dirname(at), { recursive: true });
  await rm(at, { force: true });
  await symlink(target, at);
}

/** Which Debian package each file comes from (dpkg -S), with the installed version. */
async function debianOwners(paths: string[]): Promise<Map<string, string>> {
  const names = new Set<string>();
  for (const path of paths) {
    // dpkg knows a file by the path it was packaged under (/lib/… or /usr/lib/…): ask for both on merged /usr.
    const candidates = [path, path.replace(/^\/usr\//, '/'), path.startsWith('/usr/') ? path : `/usr${path}`];
    for (const candidate of candidates) {
      const found = await run('dpkg', ['-S', candidate]).then((r) => r.stdout, () => '');
      const owner = /^([^:\s]+)(?::[^:\s]+)?: /m.exec(found)?.[1];
      if (owner) { names.add(owner.split(',')[0]); break; }
    }
  }
  const owners = new Map<string, string>();
  for (const name of [...names].sort()) {
    const version = (await run('dpkg-query', ['-W', '-f', '${Version}', name]).then((r) => r.stdout, () => '')).trim();
    owners.set(name, version || 'unknown');
  }
  return owners;
}

/** OCI annotations (https://github.com/opencontainers/image-spec/blob/main/annotations.md), also set as labels. */
async function imageAnnotations(version: string): Promise<Record<string, string>> {
  const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { description: string; license: string };
  // The commit and its time when this is a git checkout: the same source gives the same `created`.
  const git = async (...args: string[]) => (await run('git', ['-C', ROOT, ...args]).then((r) => r.stdout.trim(), () => ''));
  const revision = await git('rev-parse', 'HEAD');
  const committed = await git('log', '-1', '--format=%cI');
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const created = epoch ? new Date(Number(epoch) * 1000).toISOString() : committed ? new Date(committed).toISOString() : new Date().toISOString();
  return {
    'org.opencontainers.image.title': IMAGE_NAME,
    'org.opencontainers.image.description': manifest.description,
    'org.opencontainers.image.version': version,
    'org.opencontainers.image.created': created,
    ...(revision ? { 'org.opencontainers.image.revision': revision } : {}),
    'org.opencontainers.image.licenses': manifest.license,
    'org.opencontainers.image.documentation': 'https://github.com/cluster-endpoint/cluster-endpoint/blob/main/docs/install.md',
  };
}

/** buildah from scratch, copy the tree, configure, commit to an OCI archive; its storage is private and removed. */
async function buildahCommit(rootfs: string, archive: string, reference: string, annotations: Record<string, string>, storage: string): Promise<void> {
  const buildah = (...args: string[]) => run('buildah', ['--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', 'vfs', ...args], { maxBuffer: 16 * 1024 * 1024 });
  const container = (await buildah('from', '--quiet', 'scratch')).stdout.trim();
  try {
    await buildah('copy', '--quiet', container, `${rootfs}/`, '/');
    const labels = Object.entries(annotations).flatMap(([key, value]) => ['--label', `${key}=${value}`, '--annotation', `${key}=${value}`]);
    await buildah('config',
      '--entrypoint', JSON.stringify([IMAGE_BINARY]),
      '--cmd', JSON.stringify(['serve', '-c', IMAGE_SPEC]),
      '--env', `PATH=${PATH}`,
      '--workingdir', '/',
      '--os', 'linux', '--arch', goArch(),
      '--created-by', 'npm run image (packaging/image.ts)',
      ...labels, container);
    const created = Math.floor(new Date(annotations['org.opencontainers.image.created']).getTime() / 1000);
    // commit's default leaves the layer uncompressed: gzip it (every runtime reads gzip; about 110 MB → 40 MB).
    await buildah('commit', '--quiet', '--format', 'oci', '--disable-compression=false', '--timestamp', String(created), container, `oci-archive:${archive}:${reference}`);
  } finally {
    await buildah('rm', container).catch(() => undefined);
    // vfs keeps a full copy of every layer: nothing of the build stays behind.
    await rm(storage, { recursive: true, force: true });
  }
}

/** The OCI (Go) name of this machine's architecture. */
export function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[arch()] ?? arch();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const result = await buildImage({ out: values.out });
  process.stdout.write(`wrote ${result.archive}\n`);
}
