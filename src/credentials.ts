// systemd credentials (LoadCredential=): systemd reads a root-only file as root and hands the service a private copy
// in $CREDENTIALS_DIRECTORY that only the service's own (dynamic) user can read. A file the spec names is read from
// there when the unit loaded a credential of that file's name, so the spec keeps the host's path and works the same
// with and without systemd.
import { access } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** The name a file is loaded under: its file name (render builtin writes `LoadCredential=<name>:<path>`). */
export function credentialName(path: string): string {
  return basename(path);
}

/** Where to read `path` from: the credential's copy when $CREDENTIALS_DIRECTORY holds one of its name, else the path. */
export async function credentialPath(path: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const directory = env.CREDENTIALS_DIRECTORY;
  if (!directory) return path;
  const copy = join(directory, credentialName(path));
  try {
    await access(copy);
    return copy;
  } catch {
    return path;
  }
}
