// Shell completion from the one declaration in program.ts: @bomb.sh/tab reads commander's commands, options and
// choices, prints the bash / zsh / fish script (`cluster-endpoint completion SHELL`), and answers the script's
// callbacks (`cluster-endpoint complete -- WORDS...`) in cobra's protocol: candidates, then ":<directive>".
//
// Three additions: values of options that take a path (and doctor's files) are left to the shell's own file
// completion (directive 0), which tab does not offer; the bash script is registered with `-o default` so that
// bash falls back to file names when we answer with none; and names only the spec knows — nodes, listeners,
// VIP peers — are read from the spec the command line names (-c), else ./endpoint.yaml, else the packaged one.
import type { Command as Cli } from '@commander-js/extra-typings';
import tab from '@bomb.sh/tab';
import tabCommander from '@bomb.sh/tab/commander';
import type { Option } from '@commander-js/extra-typings';
import { existsSync } from 'node:fs';
import { SPEC_PATH } from '../render/builtin/systemd.js';
import { loadSpecFile } from '../spec/load.js';
import type { Spec } from '../spec/types.js';
import type { Io } from './command.js';
import { examples } from './help.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** Flags whose value is a file or directory, marked by pathOption where they are declared. */
const PATH_FLAGS = new Set<string>();
/** Commands whose positional arguments are files. */
const FILE_ARGUMENT_COMMANDS = new Set(['doctor']);

/** Marks an option whose value is a path, so completion offers file names for it. */
export function pathOption<T extends Option<any, any, any, any, any, any>>(option: T): T {
  if (option.short) PATH_FLAGS.add(option.short);
  if (option.long) PATH_FLAGS.add(option.long);
  return option;
}

/** Directive 0 of the protocol: no candidates from us, the shell completes file names. */
const FILES = ':0\n';

/** True when the word being completed (the last one) is the value of a path option or a file argument. */
export function completesPath(words: string[]): boolean {
  const current = words.at(-1) ?? '';
  const previous = words.at(-2);
  if (current.startsWith('-')) {
    const flag = current.split('=')[0];
    return current.includes('=') && PATH_FLAGS.has(flag);
  }
  if (previous !== undefined && PATH_FLAGS.has(previous)) return true;
  const command = words.find((w) => !w.startsWith('-'));
  return command !== undefined && command !== current && FILE_ARGUMENT_COMMANDS.has(command);
}

export function addCompletion(program: Cli, io: Io, done: (code: number) => void): void {
  tabCommander(program as never, { completionCommandName: 'completion' });
  const completion = program.commands.find((c) => c.name() === 'completion');
  const complete = program.commands.find((c) => c.name() === 'complete');
  if (!completion || !complete) throw new Error('@bomb.sh/tab did not add its completion commands');
  completion
    .summary('print the shell completion script (bash, zsh, fish)')
    .description(`Prints the completion script for SHELL. Commands, options and their choices complete from the CLI's
own declaration; node names, --listener and --peer from the spec (-c FILE, else ./endpoint.yaml, else the
packaged one); file arguments complete as files. Install it as in the examples (bash needs the bash-completion
package).`)
    .action((...args: unknown[]) => {
      const shell = args[0] as string;
      writingTo(io, () => tab.setup(program.name(), program.name(), shell));
      if (shell === 'bash') {
        const fn = `__${program.name().replace(/[-:]/g, '_')}_complete`;
        io.stdout.write(`# Fall back to file names where the program offers nothing (paths, doctor's files).\ncomplete -o default -F ${fn} ${program.name()}\n`);
      }
      done(0);
    });
  const shell = completion.registeredArguments[0];
  if (shell) shell.description = 'bash, zsh or fish';
  examples(completion as never, [
    'cluster-endpoint completion bash > /etc/bash_completion.d/cluster-endpoint',
    'cluster-endpoint completion zsh > "${fpath[1]}/_cluster-endpoint"',
    'cluster-endpoint completion fish > ~/.config/fish/completions/cluster-endpoint.fish',
  ]);
  // Candidates are one line each: offer a command's one-line summary, not its long description.
  for (const [name, entry] of tab.commands) {
    const command = program.commands.find((c) => c.name() === name);
    if (command) entry.description = command.summary() || command.description().split('\n')[0];
  }
  complete.action(async (...args: unknown[]) => {
    const words = args[0] as string[];
    if (completesPath(words)) io.stdout.write(FILES);
    else {
      offerSpecNames(tab.commands.get(words[0] ?? ''), await specFor(words));
      writingTo(io, () => tab.parse(words));
    }
    done(0);
  });
}

/** Runs `print` with console.log (where tab writes) sent to io.stdout, as every command writes to its io. */
function writingTo(io: Io, print: () => void): void {
  const log = console.log;
  console.log = (...values: unknown[]) => { io.stdout.write(`${values.join(' ')}\n`); };
  try {
    print();
  } finally {
    console.log = log;
  }
}

/** The spec a command line refers to (-c/--config, else the default places), or undefined when there is none that is valid. */
export async function specFor(words: string[]): Promise<Spec | undefined> {
  const before = words.slice(0, -1);
  let path: string | undefined;
  for (const [i, word] of before.entries()) {
    if ((word === '-c' || word === '--config') && i + 1 < before.length) path = before[i + 1];
    else if (word.startsWith('--config=')) path = word.slice('--config='.length);
  }
  path ??= ['endpoint.yaml', SPEC_PATH].find((p) => existsSync(p));
  return path === undefined ? undefined : (await loadSpecFile(path)).spec;
}

type Entry = typeof tab.commands extends Map<string, infer E> ? E : never;
type Candidate = readonly [value: string, description: string];

/** Hands the spec's names to the completion entries of `command`: NODE arguments, --node, --listener, --peer. */
function offerSpecNames(command: Entry | undefined, spec: Spec | undefined): void {
  if (!command || !spec) return;
  const offer = (candidates: readonly Candidate[]) => (complete: (value: string, description: string) => void) => { for (const [value, description] of candidates) complete(value, description); };
  const nodes = [...spec.controlPlane, ...spec.workers];
  // probe takes NAME=ADDR and NAME=PORT[:TARGETPORT]; the other commands a name.
  const probe = command.value === 'probe';
  const node = command.arguments.get('node');
  if (node) node.handler = offer(nodes.map((n) => [n.name, n.address]));
  const nodeOption = command.options.get('node');
  if (nodeOption && probe) nodeOption.handler = offer(nodes.map((n) => [`${n.name}=${n.address}`, '']));
  const listener = command.options.get('listener');
  if (listener) {
    listener.handler = offer(spec.listeners.map((l) => probe
      ? [`${l.name}=${l.port}${l.targetPort !== l.port ? `:${l.targetPort}` : ''}`, '']
      : [l.name, `port ${l.port}, ${l.targets}`]));
  }
  const peer = command.options.get('peer');
  if (peer && spec.vip) peer.handler = offer(spec.vip.peers.map((p) => [p.name, p.address]));
}
