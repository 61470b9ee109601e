import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import { parseArgs } from 'node:util';
import { EXIT, UserError } from '../../errors.js';
import { updateKubeconfigFile, updateTalosconfigFile } from '../../render/clients/update.js';
import { unifiedDiff } from '../../render/diff.js';
import { RENDERERS, type RenderContext, type RenderedFile } from '../../render/index.js';
import { requireSpec } from '../../spec/load.js';
import type { Spec } from '../../spec/types.js';
import { VERSION } from '../../version.js';
import type { Command, Io } from '../command.js';

const targetList = () => [...Object.keys(RENDERERS), 'all'].join('|');

const help = () => `usage: cluster-endpoint render <${targetList()}> -c FILE -o DIR [--check]
       cluster-endpoint render clients -c FILE -o DIR [--kubeconfig FILE] [--talosconfig FILE]

Writes configuration for one engine from the spec (all: every target, each in DIR/<target>/).
Every file starts with a header naming the spec and the tool version.

targets:
${Object.values(RENDERERS).map((r) => `  ${r.target.padEnd(11)} ${r.description}`).join('\n')}
  ${'all'.padEnd(11)} every target above, each into its own subfolder

options:
  -c, --config FILE    spec file (default endpoint.yaml)
  -o, --output DIR     output directory
      --check          write nothing; exit 1 and show a diff when DIR differs from what the spec renders
      --kubeconfig F   clients only: set the server of cluster <cluster.name> in F (backup F.bak-<time>)
      --talosconfig F  clients only: set endpoints and nodes of the context in F (backup F.bak-<time>)`;

interface Output { target: string; files: RenderedFile[] }

export const command: Command = async (argv, io) => {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c', default: 'endpoint.yaml' },
      output: { type: 'string', short: 'o' },
      check: { type: 'boolean' },
      kubeconfig: { type: 'string' },
      talosconfig: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) { io.stdout.write(`${help()}\n`); return EXIT.ok; }
  const [target, ...extra] = positionals;
  if (!target) throw new UserError('USAGE', 'render needs a target', { hint: `cluster-endpoint render <${targetList()}> -c endpoint.yaml -o DIR`, exitCode: EXIT.invalid });
  if (extra.length > 0) throw new UserError('USAGE', `unexpected argument "${extra[0]}"`, { hint: 'render takes one target; use "all" for every target', exitCode: EXIT.invalid });
  if (target !== 'all' && !(target in RENDERERS)) {
    throw new UserError('USAGE', `unknown render target "${target}"`, { hint: `use one of: ${targetList().replace(/\|/g, ', ')}`, exitCode: EXIT.invalid });
  }
  if (!values.output) throw new UserError('USAGE', 'render needs an output directory', { hint: `add -o DIR (e.g. -o rendered/${target})`, exitCode: EXIT.invalid });
  if ((values.kubeconfig || values.talosconfig) && target !== 'clients') {
    throw new UserError('USAGE', '--kubeconfig and --talosconfig belong to the clients target', { hint: 'run cluster-endpoint render clients -c FILE -o DIR --kubeconfig FILE', exitCode: EXIT.invalid });
  }
  if ((values.kubeconfig || values.talosconfig) && values.check) {
    throw new UserError('USAGE', '--check writes nothing, so it cannot update a kubeconfig or talosconfig', { hint: 'drop --kubeconfig/--talosconfig, or drop --check', exitCode: EXIT.invalid });
  }

  const specPath = values.config as string;
  const spec = await requireSpec(specPath);
  const context: RenderContext = { version: VERSION, specName: normalize(specPath) };
  const dir = values.output;

  const outputs: Output[] = [];
  let failed = 0;
  if (target === 'all') {
    for (const renderer of Object.values(RENDERERS)) {
      try {
        outputs.push({ target: renderer.target, files: renderer.render(spec, context).map((f) => ({ ...f, path: join(renderer.target, f.path) })) });
      } catch (error) {
        if (!(error instanceof UserError)) throw error;
        failed++;
        io.stderr.write(`error: ${renderer.target}: ${error.message}${error.hint ? `\n  fix: ${error.hint}` : ''}\n`);
      }
    }
  } else {
    outputs.push({ target, files: RENDERERS[target].render(spec, context) });
  }

  if (values.check) return (await check(dir, outputs, io)) || failed > 0 ? EXIT.failure : EXIT.ok;

  for (const { files } of outputs) {
    for (const file of files) {
      const path = join(dir, file.path);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, file.contents, { mode: file.path.endsWith('.sh') ? 0o755 : 0o644 });
      io.stdout.write(`wrote ${path}\n`);
    }
  }
  await updateClientConfigs(spec, values, io);
  return failed > 0 ? EXIT.failure : EXIT.ok;
};

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
        current = await readFile(path, 'utf8');
      } catch {
        drifted++;
        io.stdout.write(`missing: ${path}\n`);
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
