// Help text is wrapped once, at the reader's width: descriptions are written as paragraphs (a line break in the
// source is a space unless a blank line, an indented line or a list item follows) and commander wraps them;
// examples break between words with a shell continuation, so each stays one command a reader can paste.
import type { Command } from '@commander-js/extra-typings';
import type { Writable } from 'node:stream';

/** Wider lines are hard to read; clap (Rust) stops at the same width. */
export const MAX_HELP_WIDTH = 100;
/** What commander assumes when it knows nothing about the output. */
const DEFAULT_WIDTH = 80;
/** Below this many columns beside the option names, descriptions go on the lines below them instead (commander's minWidthToWrap). */
export const MIN_DESCRIPTION_WIDTH = 30;
const DESCRIPTION_INDENT = 6;

/** The width help is wrapped at: the terminal's columns (or $COLUMNS when not a terminal), at most MAX_HELP_WIDTH. */
export function helpWidth(stream: Writable): number {
  const tty = stream as Writable & { isTTY?: boolean; columns?: number };
  const columns = tty.isTTY && tty.columns ? tty.columns : Number(process.env.COLUMNS);
  return Math.min(MAX_HELP_WIDTH, Number.isInteger(columns) && columns > 0 ? columns : DEFAULT_WIDTH);
}

/** The width the help of `command` is wrapped at (its output configuration knows the stream). */
export function outputWidth(command: Pick<Command, 'configureOutput'>): number {
  return command.configureOutput().getOutHelpWidth?.() ?? DEFAULT_WIDTH;
}

/** Examples shown under a command's help, wrapped at the help's width. */
export function examples(command: Command<any, any, any>, lines: readonly string[]): void {
  command.addHelpText('after', (context) => `\n${formatExamples(lines, outputWidth(context.command))}`);
}

/** Joins the lines of each paragraph; keeps blank lines, indented lines and "- " list items as they are. */
export function prose(text: string): string {
  const lines = text.split('\n');
  let out = lines[0] ?? '';
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const previous = lines[i - 1];
    const keep = line.trim() === '' || /^\s/.test(line) || line.startsWith('- ') || previous.trim() === '' || /^\s/.test(previous);
    out += keep ? `\n${line}` : ` ${line}`;
  }
  return out;
}

/** Breaks text into lines of at most `width` columns between words (a longer word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** "  $ command …" lines; a command wider than `width` continues on indented lines ending in " \". */
export function formatExamples(commands: readonly string[], width: number): string {
  const out: string[] = [];
  for (const command of commands) {
    const first = '  $ ';
    const next = ' '.repeat(DESCRIPTION_INDENT);
    // A flag stays on the line of its value; room is kept for " \" at the end of every line but the last.
    const words = command.split(' ').reduce<string[]>((units, word) => {
      const last = units.at(-1);
      if (last !== undefined && /^-[^ ]*$/.test(last) && !last.includes('=') && !word.startsWith('-')) units[units.length - 1] = `${last} ${word}`;
      else units.push(word);
      return units;
    }, []);
    let line = first;
    for (const word of words) {
      const fresh = line === first || line === next;
      if (!fresh && line.length + 1 + word.length + 2 > width) {
        out.push(`${line} \\`);
        line = next + word;
      } else {
        line += fresh ? word : ` ${word}`;
      }
    }
    out.push(line);
  }
  return `Examples:\n${out.join('\n')}`;
}

/**
 * commander's formatItem, but where the terminal leaves too little room beside the terms, the description goes
 * on the lines below the term (indented) instead of in a column a few characters wide.
 */
export function formatItem(term: string, termWidth: number, description: string, width: number, columnar: (term: string, termWidth: number, description: string) => string): string {
  if (!description || width - termWidth - 4 >= MIN_DESCRIPTION_WIDTH) return columnar(term, termWidth, description);
  const indent = ' '.repeat(DESCRIPTION_INDENT);
  return [`  ${term}`, ...wrap(description, width - DESCRIPTION_INDENT).map((l) => indent + l)].join('\n');
}

/** The "Usage:" line, wrapped at `width` with its continuation under the command name (commander leaves it long). */
export function wrapUsage(help: string, width: number): string {
  const end = help.indexOf('\n');
  const first = end === -1 ? help : help.slice(0, end);
  if (!first.startsWith('Usage: ') || first.length <= width) return help;
  const lines = wrap(first.slice('Usage: '.length), width - 'Usage: '.length);
  return `Usage: ${lines.join(`\n${' '.repeat('Usage: '.length)}`)}${end === -1 ? '' : help.slice(end)}`;
}

/** A list of terms and descriptions ("Targets:") formatted like commander's own lists, at `width`. */
export function formatList(title: string, items: ReadonlyArray<readonly [string, string]>, width: number): string {
  const termWidth = Math.max(...items.map(([term]) => term.length));
  const columnar = (term: string, tw: number, description: string) => {
    const lines = wrap(description, width - tw - 4);
    return [`  ${term.padEnd(tw)}  ${lines[0] ?? ''}`, ...lines.slice(1).map((l) => `${' '.repeat(tw + 4)}${l}`)].join('\n');
  };
  return `${title}\n${items.map(([term, description]) => formatItem(term, termWidth, description, width, columnar)).join('\n')}`;
}
