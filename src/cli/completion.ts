// Shell completion from the one declaration in program.ts: @bomb.sh/tab reads commander's commands, options and
// choices, prints the bash / zsh / fish script (`cluster-endpoint completion SHELL`), and answers the script's
// callbacks (`cluster-endpoint complete -- WORDS...`) in cobra's protocol: candidates, then ":<directive>".
//
// Two additions: values of options that take a path (and doctor's files) are left to the shell's own file
// completion (directive 0), which tab does not offer; and the bash script is registered with `-o default` so
// that bash falls back to file names when we answer with none.
import type { Command as Cli } from '@commander-js/extra-typings';
import tab from '@bomb.sh/tab';
import tabCommander from '@bomb.sh/tab/commander';
import type { Option } from '@commander-js/extra-typings';
import type { Io } from './command.js';

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
own declaration; file arguments complete as files.

  bash: cluster-endpoint completion bash > /etc/bash_completion.d/cluster-endpoint   (needs bash-completion)
  zsh:  cluster-endpoint completion zsh > "\${fpath[1]}/_cluster-endpoint"
  fish: cluster-endpoint completion fish > ~/.config/fish/completions/cluster-endpoint.fish`)
    .action((...args: unknown[]) => {
      const shell = args[0] as string;
      tab.setup(program.name(), program.name(), shell);
      if (shell === 'bash') {
        const fn = `__${program.name().replace(/[-:]/g, '_')}_complete`;
        io.stdout.write(`# Fall back to file names where the program offers nothing (paths, doctor's files).\ncomplete -o default -F ${fn} ${program.name()}\n`);
      }
      done(0);
    });
  // Candidates are one line each: offer a command's one-line summary, not its long description.
  for (const [name, entry] of tab.commands) {
    const command = program.commands.find((c) => c.name() === name);
    if (command) entry.description = command.summary() || command.description().split('\n')[0];
  }
  complete.action((...args: unknown[]) => {
    const words = args[0] as string[];
    if (completesPath(words)) io.stdout.write(FILES);
    else tab.parse(words);
    done(0);
  });
}
