import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { specReferenceTable } from '../../spec/reference.js';
import { jsonSchema } from '../../spec/schema.js';
import type { Command } from '../command.js';

const HELP = `usage: cluster-endpoint schema [-o FILE] [--markdown]

Prints the JSON Schema of endpoint.yaml (schema/endpoint.schema.json is this output), or with
--markdown the field reference table of docs/spec.md.`;

export const command: Command = async (argv, io) => {
  const { values } = parseArgs({ args: argv, options: { output: { type: 'string', short: 'o' }, markdown: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const text = values.markdown ? `${specReferenceTable()}\n` : `${JSON.stringify(jsonSchema(), null, 2)}\n`;
  if (values.output) await writeFile(values.output, text);
  else io.stdout.write(text);
  return 0;
};
