import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import { EXIT, UserError } from '../../errors.js';
import { updateKubeconfigFile, updateTalosconfigFile } from '../../render/clients/update.js';
import { unifiedDiff } from '../../render/diff.js';
import { RENDERERS, type RenderContext, type RenderedFile } from '../../render/index.js';
import { formatRefusal, refusalsOf } from '../../render/refusals.js';
import { readTextFile } from '../../read-file.js';
import { requireSpecAndText } from '../../spec/load.js';
import type { Spec } from '../../spec/types.js';
import { VERSION } from '../../version.js';
import { usage, type Io } from '../command.js';

export interface RenderOptions {
  /** A registered target (src/render/index.ts) or "all". */
  target: string;
  config: string;
  output?: string;
  check?: boolean;
  kubeconfig?: string;
  talosconfig?: string;
  /** builtin: the executable the systemd unit runs. */
  binary?: string;
}

interface Output { target: string; files: RenderedFile[] }

/** Writes (or with check, compares) the files of one target or of all of them. */
export async function render(options: RenderOptions, io: Io): Promise<number> {
  const { target } = options;
  if (!options.output) throw usage('render needs an output directory', `add -o DIR (e.g. -o rendered/${target})`);
  if ((options.kubeconfig || options.talosconfig) && target !== 'clients') {
    throw usage('--kubeconfig and --talosconfig belong to the clients target', 'run cluster-endpoint render clients -c FILE -o DIR --kubeconfig FILE');
  }

  if (options.binary !== undefined && target !== 'builtin' && target !== 'all') {
    throw usage('--binary belongs to the builtin target', 'run cluster-endpoint render builtin -c FILE -o DIR --binary /usr/bin/cluster-endpoint');
  }
  // systemd runs an absolute path, or a plain name it looks up itself; nothing relative.
  if (options.binary !== undefined && !isAbsolute(options.binary)) {
    throw usage(`--binary ${options.binary}: systemd needs an absolute path`, `give the full path, e.g. --binary ${resolve(options.binary)}`);
  }

  const specPath = options.config;
  const { spec, text: specText } = await requireSpecAndText(specPath);
  const context: RenderContext = { version: VERSION, specName: normalize(specPath), specText, ...(options.binary ? { binary: options.binary } : {}) };
  const dir: string = options.output;

  const outputs: Output[] = [];
  let failed = 0;
  const renderers = target === 'all' ? Object.values(RENDERERS) : [RENDERERS[target]];
  for (const renderer of renderers) {
    // `all` renders what the spec describes: a target whose section the spec lacks is not an error there.
    if (target === 'all' && renderer.section && !renderer.section.present(spec)) {
      io.stdout.write(`skipped ${renderer.target}: the spec has no ${renderer.section.name}\n`);
      continue;
    }
    try {
      const files = renderer.render(spec, context);
      outputs.push({ target: renderer.target, files: target === 'all' ? files.map((f) => ({ ...f, path: join(renderer.target, f.path) })) : files });
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      failed++;
      reportRefusals(target === 'all' ? `${renderer.target}: ` : '', error, io);
    }
  }
  // One target that cannot be rendered: nothing to write or compare.
  if (target !== 'all' && failed > 0) return EXIT.failure;

  if (options.check) return (await check(dir, outputs, io)) || failed > 0 ? EXIT.failure : EXIT.ok;

  for (const { files } of outputs) {
    for (const file of files) {
      const path = join(dir, file.path);
      await mkdir(dirname(path), { recursive: true });
      // A file with a secret (keepalived's auth_pass) is its owner's alone, also when it existed before.
      const mode = file.secret ? 0o600 : file.path.endsWith('.sh') ? 0o755 : 0o644;
      await writeFile(path, file.contents, { mode });
      await chmod(path, mode);
      io.stdout.write(`wrote ${path}\n`);
    }
  }
  await updateClientConfigs(spec, options, io);
  return failed > 0 ? EXIT.failure : EXIT.ok;
}

/** Every field the target refused, one `error:` line and its fix each (as validate lists every problem). */
function reportRefusals(prefix: string, error: UserError, io: Io): void {
  for (const refusal of refusalsOf(error)) {
    io.stderr.write(`error: ${prefix}${formatRefusal(refusal)}${refusal.hint ? `\n  fix: ${refusal.hint}` : ''}\n`);
  }
}

/** Prints a diff per drifted file and names missing ones; true when anything differs. */
async function check(dir: string, outputs: Output[], io: Io): Promise<boolean> {
  let drifted = 0;
  let total = 0;
  for (const { files } of outputs) {
    for (const file of files) {
      total++;
      const path = join(dir, file.path);
      let current: string;
      try {
        // What is on disk is read only as far as it can still match: a larger file differs, a FIFO or a hung mount
        // is reported instead of waited on.
        current = await readTextFile(path, { maxBytes: Buffer.byteLength(file.contents), codes: { file: 'USAGE', limit: 'USAGE' } });
      } catch (error) {
        drifted++;
        const missing = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
        io.stdout.write(missing ? `missing: ${path}\n` : `differs: ${(error as Error).message}\n`);
        continue;
      }
      if (current === file.contents) continue;
      drifted++;
      io.stdout.write(unifiedDiff(current, file.contents, { before: `${path} (on disk)`, after: `${path} (rendered from the spec)` }));
    }
  }
  if (drifted > 0) io.stderr.write(`error: ${drifted} of ${total} file(s) in ${dir} differ from what the spec renders\n  fix: run the same command without --check to rewrite them, or change the spec\n`);
  else io.stdout.write(`${dir}: ${total} file(s) match the spec\n`);
  return drifted > 0;
}

async function updateClientConfigs(spec: Spec, values: { kubeconfig?: string; talosconfig?: string }, io: Io): Promise<void> {
  const now = new Date();
  if (values.kubeconfig) {
    const result = await updateKubeconfigFile(values.kubeconfig, spec, now);
    io.stdout.write(`${result.changed ? 'updated' : 'unchanged'} ${values.kubeconfig}: ${result.summary}${result.backup ? ` (backup ${result.backup})` : ''}\n`);
  }
  if (values.talosconfig) {
    const result = await updateTalosconfigFile(values.talosconfig, spec, now);
    io.stdout.write(`${result.changed ? 'updated' : 'unchanged'} ${values.talosconfig}: ${result.summary}${result.backup ? ` (backup ${result.backup})` : ''}\n`);
  }
}
