import { parseArgs } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { jsonSchema } from '../../spec/schema.js';
import type { Command } from '../command.js';

/** Prints the JSON Schema (or writes it with -o); schema/endpoint.schema.json is this output. */
export const command: Command = async (argv, io) => {
  const { values } = parseArgs({ args: argv, options: { output: { type: 'string', short: 'o' } } });
  const text = `${JSON.stringify(jsonSchema(), null, 2)}\n`;
  if (values.output) await writeFile(values.output, text);
  else io.stdout.write(text);
  return 0;
};
