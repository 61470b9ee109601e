// Client credentials for probe: the client certificate of a kubeconfig user, and a talosconfig context.
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { UserError } from '../errors.js';
import { readTextFile } from '../read-file.js';

/** A kubeconfig, a talosconfig or a PEM file is a few KiB; anything this large is not one. */
const CREDENTIAL_FILE_BYTES = 4 * 1024 * 1024;

/** A file named on the command line (or in a kubeconfig), read with bounds: a FIFO or /dev/zero is an error, not a hang. */
async function readBounded(path: string, flag: string): Promise<string> {
  try {
    return await readTextFile(path, { maxBytes: CREDENTIAL_FILE_BYTES, codes: { file: 'USAGE', limit: 'USAGE' }, hint: `pass an existing file to ${flag}`, exitCode: 2 });
  } catch (error) {
    const { code, message, hint } = error as UserError;
    throw new UserError(code, message.replace(/^cannot read /, `cannot read ${flag} `).replace(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `), `${flag} ${path} `), { hint, exitCode: 2, cause: error });
  }
}

export interface ClientCredentials {
  /** PEM */
  cert?: string;
  key?: string;
  ca?: string;
  /** Where they came from, for messages ("kubeconfig context admin@rciis"). */
  from: string;
}

type Yaml = Record<string, unknown>;

function record(value: unknown): Yaml {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Yaml) : {};
}

async function readYaml(path: string, flag: string): Promise<Yaml> {
  const text = await readBounded(path, flag);
  try {
    return record(parse(text));
  } catch (error) {
    throw new UserError('USAGE', `${flag} ${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`, { exitCode: 2 });
  }
}

const b64 = (value: unknown): string | undefined => (typeof value === 'string' && value ? Buffer.from(value, 'base64').toString('utf8') : undefined);

/** The current context's client certificate and cluster CA (inline *-data or file paths relative to the kubeconfig). */
export async function loadKubeconfig(path: string): Promise<ClientCredentials> {
  const doc = await readYaml(path, '--kubeconfig');
  const named = (list: unknown, name: unknown) => record((Array.isArray(list) ? list : []).map(record).find((entry) => entry.name === name));
  const contextName = doc['current-context'];
  const context = record(named(doc.contexts, contextName).context);
  const cluster = record(named(doc.clusters, context.cluster).cluster);
  const user = record(named(doc.users, context.user).user);
  const file = async (value: unknown) => (typeof value === 'string' && value ? readBounded(resolve(dirname(path), value), '--kubeconfig') : undefined);
  const credentials: ClientCredentials = {
    cert: b64(user['client-certificate-data']) ?? (await file(user['client-certificate'])),
    key: b64(user['client-key-data']) ?? (await file(user['client-key'])),
    ca: b64(cluster['certificate-authority-data']) ?? (await file(cluster['certificate-authority'])),
    from: `kubeconfig ${path} context ${String(contextName)}`,
  };
  if (!credentials.cert || !credentials.key) {
    throw new UserError('USAGE', `${path}: the user of context "${String(contextName)}" has no client certificate`, { hint: 'probe authenticates with client-certificate-data/client-key-data (token users are not supported); or probe anonymously without --kubeconfig', exitCode: 2 });
  }
  return credentials;
}

/** The talosconfig's current context: ca, crt, key (base64 PEM). */
export async function loadTalosconfig(path: string): Promise<ClientCredentials> {
  const doc = await readYaml(path, '--talosconfig');
  const name = doc.context;
  const context = record(record(doc.contexts)[String(name)]);
  const credentials: ClientCredentials = { ca: b64(context.ca), cert: b64(context.crt), key: b64(context.key), from: `talosconfig ${path} context ${String(name)}` };
  if (!credentials.cert || !credentials.key || !credentials.ca) {
    throw new UserError('USAGE', `${path}: context "${String(name)}" lacks ca, crt or key`, { hint: 'use the talosconfig written by talosctl gen config', exitCode: 2 });
  }
  return credentials;
}
