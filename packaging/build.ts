// `npm run package`: one self-contained executable (a Node.js single-executable application) and a Debian
// package around it. Steps: esbuild bundles the CLI into one CommonJS file; Node turns it and the one data file a
// dependency reads at run time into a blob; postject injects the blob into a stripped copy of this Node binary;
// dpkg-deb packs the binary with the systemd unit, an example spec, the spec's JSON Schema, shell completions and the
// licences of everything the binary carries.
//
//   node --import tsx packaging/build.ts [--out DIR] [--skip-deb]
//
// Output (default dist/package/): cluster-endpoint (the executable), cluster-endpoint_<version>_<arch>.deb.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { arch } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { debianFiles, type DebianFile } from './debian.js';
import { bundledPackageDirs, copyrightFile, nodeLicense, readPackage } from './licenses.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const require = createRequire(import.meta.url);

/** The sentinel Node's SEA loader looks for (documented with `node --experimental-sea-config`). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** The SEA asset holding @cdktn/hcl2json's WebAssembly parser (doctor reads Terraform files with it). */
export const HCL_WASM_ASSET = 'hcl2json/main.wasm.gz';

export interface BuildResult {
  executable: string;
  deb?: string;
  version: string;
  /** The copyright and licences of everything inside the executable (Debian's copyright-file format). */
  copyright: string;
}

export async function buildPackage(options: { out?: string; deb?: boolean } = {}): Promise<BuildResult> {
  const out = resolve(options.out ?? join(ROOT, 'dist/package'));
  const work = join(out, 'work');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };

  const bundle = join(work, 'cluster-endpoint.cjs');
  const inputs = await bundleCli(bundle, version);
  const copyright = copyrightFile({
    nodeVersion: process.version,
    nodeLicense: nodeLicense(process.execPath),
    packages: bundledPackageDirs(ROOT, inputs).map(readPackage),
  });

  const blob = join(work, 'sea.blob');
  const wasm = join(dirname(require.resolve('@cdktn/hcl2json/package.json')), 'main.wasm.gz');
  const seaConfig = join(work, 'sea-config.json');
  await writeFile(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, assets: { [HCL_WASM_ASSET]: wasm } }, null, 2));
  await run(process.execPath, ['--experimental-sea-config', seaConfig]);

  const executable = join(out, 'cluster-endpoint');
  await rm(executable, { force: true });
  await copyFile(process.execPath, executable);
  await chmod(executable, 0o755);
  // Stripped before the injection (a binary stripped after it crashes: strip drops the blob's note): 12 MB less,
  // and Debian's policy for packaged binaries. Node resolves its own symbols through .dynsym, which strip keeps.
  await run('strip', ['--strip-all', executable]).catch((error: NodeJS.ErrnoException) => {
    throw new Error(error.code === 'ENOENT' ? 'strip is not installed: install binutils (Debian: apt-get install binutils)' : `strip failed: ${error.message}`);
  });
  await run(process.execPath, [require.resolve('postject/dist/cli.js'), executable, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { maxBuffer: 16 * 1024 * 1024 });

  const result: BuildResult = { executable, version, copyright };
  if (options.deb !== false) result.deb = await buildDeb(executable, version, copyright, out, work);
  await rm(work, { recursive: true, force: true });
  return result;
}

/**
 * One CommonJS file for the SEA (its main script must be CommonJS, and may only require built-in modules).
 * Two sources need a word: src/version.ts reads package.json next to the sources, which the executable does not
 * have (the version is written in instead), and @cdktn/hcl2json reads main.wasm.gz next to its own file (in the
 * executable it comes from the SEA asset).
 */
async function bundleCli(outfile: string, version: string): Promise<string[]> {
  const worker = await specWorker();
  const versionPlugin: Plugin = {
    name: 'version',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]version\.ts$/ }, () => ({ contents: `export const VERSION = ${JSON.stringify(version)};\n`, loader: 'ts' }));
    },
  };
  const wasmPlugin: Plugin = {
    name: 'hcl2json-wasm',
    setup(b) {
      b.onLoad({ filter: /@cdktn[\\/]hcl2json[\\/]build[\\/]bridge\.js$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        const original = 'fs.readFile((0, path_1.join)(__dirname, "..", "main.wasm.gz"))';
        // Fails the build when a new version of the library reads its parser differently: look again then.
        if (!source.includes(original)) throw new Error(`@cdktn/hcl2json: ${args.path} no longer reads main.wasm.gz as expected; update packaging/build.ts`);
        const fromAsset = `Promise.resolve(Buffer.from(require("node:sea").getAsset(${JSON.stringify(HCL_WASM_ASSET)})))`;
        return { contents: source.replace(original, fromAsset), loader: 'js' };
      });
    },
  };
  // serve parses a reloaded spec on a worker thread whose entry is src/spec/worker.ts itself (import.meta.url):
  // in the executable that module is a data: URL holding its own bundle.
  const workerPlugin: Plugin = {
    name: 'spec-worker',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]spec[\\/]worker\.ts$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!source.includes('import.meta.url')) throw new Error(`${args.path} no longer starts its worker from import.meta.url; update packaging/build.ts`);
        return { contents: source.replaceAll('import.meta.url', JSON.stringify(worker.url)), loader: 'ts' };
      });
    },
  };
  // Modules that bundled packages require inside a try/catch and do without (node-fetch's `encoding`, debug's
  // `supports-color`, both under @kubernetes/client-node): in the executable any require() of a module from disk prints
  // a warning, so they go in as empty modules.
  const absentPlugin: Plugin = {
    name: 'absent-optional',
    setup(b) {
      b.onResolve({ filter: /^(encoding|supports-color)$/ }, (args) => ({ path: args.path, namespace: 'absent' }));
      b.onLoad({ filter: /.*/, namespace: 'absent' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    },
  };
  const result = await build({
    entryPoints: [join(ROOT, 'src/cli/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // wasm_exec's polyfill for Node < 16, never reached on Node 20.
    external: ['performance'],
    plugins: [versionPlugin, wasmPlugin, workerPlugin, absentPlugin],
    logLevel: 'warning',
    // The licences are in the copyright file (packaging/licenses.ts), not repeated inside the bundle.
    legalComments: 'none',
    metafile: true,
  });
  // Every source file that went in: the bundled packages' licences are read from this list.
  return [...Object.keys(result.metafile.inputs), ...worker.inputs];
}

/** src/spec/worker.ts bundled alone as an ES module, as a data: URL a Worker can start from. */
async function specWorker(): Promise<{ url: string; inputs: string[] }> {
  const result = await build({
    entryPoints: [join(ROOT, 'src/spec/worker.ts')],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // CommonJS dependencies bundled into an ES module still call require() for built-in modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(process.execPath);" },
    logLevel: 'warning',
    legalComments: 'none',
    metafile: true,
  });
  return { url: `data:text/javascript;base64,${Buffer.from(result.outputFiles[0].contents).toString('base64')}`, inputs: Object.keys(result.metafile.inputs) };
}

async function buildDeb(executable: string, version: string, copyright: string, out: string, work: string): Promise<string> {
  const root = join(work, 'deb');
  const files: DebianFile[] = await debianFiles({ version, architecture: debianArchitecture(), executable, copyright });
  for (const file of files) {
    const path = join(root, file.path);
    await mkdir(dirname(path), { recursive: true });
    if (file.source) await copyFile(file.source, path);
    else await writeFile(path, file.contents ?? '');
    await chmod(path, file.mode ?? 0o644);
  }
  const deb = join(out, `cluster-endpoint_${version}_${debianArchitecture()}.deb`);
  await rm(deb, { force: true });
  // xz: every dpkg reads it (zstd only from Debian 12), and Debian's own archive uses it. Level 1: a sixth of the
  // default level's CPU time (about 12 s against 50 s here) for a file about 3 MB bigger.
  await run('dpkg-deb', ['--root-owner-group', '-Zxz', '-z1', '--build', root, deb]);
  return deb;
}

/** Debian's name for this machine's architecture (the executable is a copy of this machine's Node). */
export function debianArchitecture(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[arch()] ?? arch();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, 'skip-deb': { type: 'boolean' } } });
  const result = await buildPackage({ out: values.out, deb: !values['skip-deb'] });
  process.stdout.write(`wrote ${result.executable}\n${result.deb ? `wrote ${result.deb}\n` : ''}`);
}
