// The licences of what the executable carries: the Node.js runtime it is a copy of, and every npm package esbuild
// bundled into it (read from the bundle's metafile, so the list cannot drift from what is really inside). Written as
// the Debian package's copyright file (machine-readable format 1.0) and shipped in the container image too.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface BundledPackage {
  name: string;
  version: string;
  license: string;
  /** Copyright lines from the licence text (or the package's author). */
  copyright: string[];
  text: string;
  /** Set when the package ships no licence file and the text is the standard one its package.json names. */
  note?: string;
}

const LICENSE_FILE = /^(licen[cs]e|copying)(\.(md|txt|markdown))?$/i;
/** Notices a licence asks to travel with copies (Apache-2.0's NOTICE). */
const NOTICE_FILE = /^(notice|copyrightnotice)(\.(md|txt))?$/i;

/** The package directory of every node_modules file among the bundle's inputs (a nested copy counts on its own). */
export function bundledPackageDirs(root: string, inputs: Iterable<string>): string[] {
  const dirs = new Set<string>();
  for (const input of inputs) {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match) dirs.add(join(root, match[1]));
  }
  return [...dirs].sort();
}

export function readPackage(dir: string): BundledPackage {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string; author?: string | { name?: string } };
  const author = typeof manifest.author === 'string' ? manifest.author : manifest.author?.name;
  const holder = author?.replace(/\s*[<(].*$/, '') || `the ${manifest.name} authors`;
  const file = readdirSync(dir).find((name) => LICENSE_FILE.test(name));
  if (!file) {
    // A package may declare MIT and ship no text of it; the MIT licence must travel with the copy, so write it out.
    if (manifest.license !== 'MIT') throw new Error(`${manifest.name}@${manifest.version} (${dir}) ships no licence file and is not MIT; add its licence text to packaging/licenses.ts before bundling it`);
    return {
      name: manifest.name, version: manifest.version, license: 'MIT', copyright: [holder], text: MIT.replace('<holder>', holder),
      note: 'the package ships no licence file; its package.json declares MIT, whose text follows',
    };
  }
  const notices = readdirSync(dir).filter((name) => NOTICE_FILE.test(name)).map((name) => readFileSync(join(dir, name), 'utf8').trim());
  const text = [readFileSync(join(dir, file), 'utf8').trim(), ...notices].join('\n\n');
  // "Copyright (c) 2020" alone names no one: the package's author then.
  const copyright = copyrightLines(text).map((line) => (/[a-z]/i.test(line) ? line : `${line} ${holder}`));
  return { name: manifest.name, version: manifest.version, license: manifest.license ?? 'see the licence text', text, copyright: copyright.length > 0 ? copyright : [holder] };
}

/** The MIT licence (https://opensource.org/license/mit), for a package that names it without shipping its text. */
const MIT = `Copyright (c) <holder>

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit
persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the
Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.`;

/** "Copyright (c) 2015 Someone" lines of a licence text, without the word and the sign. */
function copyrightLines(text: string): string[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => /^copyright\b/i.test(l) && /\d{4}|\(c\)|©/i.test(l));
  return [...new Set(lines.map((l) => l.replace(/^copyright\s*(\(c\)|©)?\s*/i, '').trim()).filter(Boolean))];
}

/** Node.js's own LICENSE (it lists the libraries Node embeds, zlib among them): next to the binary or where Debian put it. */
export function nodeLicense(execPath: string): string {
  const candidates = [join(dirname(execPath), '..', 'LICENSE'), join(dirname(execPath), 'LICENSE'), '/usr/share/doc/nodejs/LICENSE', '/usr/share/doc/node/LICENSE'];
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`Node.js's LICENSE was not found (looked in ${candidates.join(', ')}); the executable embeds Node.js and must carry its licence`);
  return readFileSync(found, 'utf8').trim();
}

/** A licence or notice as the body of a copyright-format field: every line indented, blank lines as " .". */
function body(text: string): string {
  return text.split('\n').map((line) => (line.trim() === '' ? ' .' : ` ${line.replace(/\s+$/, '')}`)).join('\n');
}

export function copyrightFile(options: { nodeVersion: string; nodeLicense: string; packages: BundledPackage[] }): string {
  const stanzas = [
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      'Upstream-Name: cluster-endpoint',
      'Comment: /usr/bin/cluster-endpoint is a Node.js single-executable application: a copy of the',
      ` Node.js ${options.nodeVersion} binary with the program and the npm packages below bundled into it.`,
      ' Each is listed with its own copyright and licence.',
    ].join('\n'),
    [
      'Files: *',
      'Copyright: cluster-endpoint contributors',
      'License: Apache-2.0',
      ' On Debian systems the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.',
    ].join('\n'),
    [
      `Files: node-${options.nodeVersion}/*`,
      'Copyright: Node.js contributors, Joyent, Inc. and other Node contributors',
      'License: Node.js',
      ' Node.js and the libraries it embeds (V8, libuv, OpenSSL, zlib, ICU, …), each under the',
      ' licence named in this text:',
      ' .',
      body(options.nodeLicense),
    ].join('\n'),
    ...options.packages.map((p) => [
      `Files: node_modules/${p.name}/*`,
      `Copyright: ${p.copyright.join('\n ')}`,
      `Comment: ${p.name} ${p.version}, bundled into the executable${p.note ? `; ${p.note}` : ''}.`,
      `License: ${p.license}`,
      body(p.text),
    ].join('\n')),
  ];
  return `${stanzas.join('\n\n')}\n`;
}
