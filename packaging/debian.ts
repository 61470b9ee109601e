// What goes into the Debian package: the executable, the systemd unit `render builtin` writes (pointed at
// /usr/bin), the example spec as a conffile (dpkg keeps the operator's edits across upgrades) with the JSON Schema
// its `$schema` line names, shell completions, the changelog and the licences of everything the executable carries,
// and maintainer scripts that never start serve on an example spec.
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { ENV_FILE, renderUnit, SPEC_PATH, UNIT_NAME } from '../src/render/builtin/index.js';
import { parseSpec } from '../src/spec/load.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

export const PACKAGE = 'cluster-endpoint';
export const INSTALLED_BINARY = '/usr/bin/cluster-endpoint';
export const EXAMPLE_SPEC = join(ROOT, 'examples/endpoint.yaml');
/** Where the package puts the spec's JSON Schema, which the packaged spec's `$schema` line points at. */
export const INSTALLED_SCHEMA = '/usr/share/cluster-endpoint/endpoint.schema.json';
/** The Debian changelog, kept by hand: its newest entry names the version in package.json (a test checks). */
export const CHANGELOG = join(ROOT, 'packaging/changelog');
const DOC = 'usr/share/doc/cluster-endpoint';

export interface DebianFile {
  /** Path inside the package root (no leading slash). */
  path: string;
  contents?: string | Buffer;
  /** Copy this file instead of writing contents. */
  source?: string;
  mode?: number;
}

/**
 * Run-time needs of the executable and of serve: the C/C++ libraries Node links against, `ip` for the VIP address,
 * arping / ndptool to announce it (IPv4 / IPv6), and for the kernel data plane nft and conntrack.
 */
export const CONTROL_RELATIONS = {
  Depends: 'libc6 (>= 2.28), libstdc++6 (>= 10), libgcc-s1',
  Recommends: 'iproute2, arping | iputils-arping, libndp-tools',
  Suggests: 'nftables, conntrack, prometheus',
} as const;

export async function debianFiles(options: { version: string; architecture: string; executable: string; copyright: string }): Promise<DebianFile[]> {
  const exampleText = await readFile(EXAMPLE_SPEC, 'utf8');
  const changelog = await readFile(CHANGELOG, 'utf8');
  const newest = /^cluster-endpoint \(([^)]+)\)/.exec(changelog)?.[1];
  if (newest !== options.version) throw new Error(`packaging/changelog: the newest entry is ${newest ?? 'missing'}, package.json says ${options.version}: add an entry`);
  const example = parseSpec(exampleText, EXAMPLE_SPEC);
  if (!example.spec) throw new Error(`examples/endpoint.yaml is invalid: ${JSON.stringify(example.problems)}`);
  const unit = renderUnit(example.spec, { version: options.version, specName: SPEC_PATH, binary: INSTALLED_BINARY }, undefined, {
    install: [
      `# Installed by the ${PACKAGE} package. Edit ${SPEC_PATH}, check it with \`${PACKAGE} validate -c ${SPEC_PATH}\`,`,
      `# then: systemctl enable --now ${PACKAGE}. For the unit made for your spec (VIP clean-up, timeouts, keys as`,
      `# credentials): \`${PACKAGE} render builtin -c ${SPEC_PATH} -o DIR --binary ${INSTALLED_BINARY}\`,`,
      '# then copy it to /etc/systemd/system/ (which takes precedence over this file).',
    ],
  });
  const completions = await Promise.all((['bash', 'zsh', 'fish'] as const).map(async (shell) => (await run(options.executable, ['completion', shell])).stdout));

  const spec = (path: string) => ({ path, contents: withSchema(exampleText, path) });
  const files: DebianFile[] = [
    { path: 'usr/bin/cluster-endpoint', source: options.executable, mode: 0o755 },
    { path: `lib/systemd/system/${UNIT_NAME}`, contents: unit },
    spec(SPEC_PATH.slice(1)),
    spec(`${DOC}/examples/endpoint.yaml`),
    { path: INSTALLED_SCHEMA.slice(1), source: join(ROOT, 'schema/endpoint.schema.json') },
    { path: `${DOC}/copyright`, contents: options.copyright },
    // gzip -9n as Debian wants it: best compression, no name or time in the header (zlib writes neither).
    { path: `${DOC}/changelog.gz`, contents: gzipSync(changelog, { level: 9 }) },
    { path: 'usr/share/lintian/overrides/cluster-endpoint', contents: LINTIAN_OVERRIDES },
    { path: 'usr/share/bash-completion/completions/cluster-endpoint', contents: completions[0] },
    { path: 'usr/share/zsh/vendor-completions/_cluster-endpoint', contents: completions[1] },
    { path: 'usr/share/fish/vendor_completions.d/cluster-endpoint.fish', contents: completions[2] },
  ];
  // As dpkg-gencontrol counts it: each file's size rounded up to a KiB.
  let installedKb = 0;
  for (const file of files) installedKb += Math.ceil((file.source ? (await stat(file.source)).size : Buffer.byteLength(file.contents ?? '')) / 1024);

  const control = [
    `Package: ${PACKAGE}`,
    `Version: ${options.version}`,
    `Architecture: ${options.architecture}`,
    'Maintainer: cluster-endpoint maintainers <maintainers@cluster-endpoint.invalid>',
    `Installed-Size: ${installedKb}`,
    ...Object.entries(CONTROL_RELATIONS).map(([field, value]) => `${field}: ${value}`),
    'Section: net',
    'Priority: optional',
    'Homepage: https://github.com/cluster-endpoint/cluster-endpoint',
    'Description: stable, highly available address for a Kubernetes / Talos control plane',
    ' cluster-endpoint serves the Kubernetes API and the Talos API behind one',
    ' address: a built-in L4 load balancer with health checks, draining and hot',
    ' reload, a floating VIP shared by the LB hosts, BGP announcements, a status',
    ' page, a JSON admin API and Prometheus metrics. It also renders configuration',
    ' for AWS NLB, HAProxy, Keepalived, Talos and DNS, and checks live endpoints.',
    ' One executable; no Node.js needed.',
    '',
  ].join('\n');

  return [
    ...files,
    { path: 'DEBIAN/control', contents: control },
    { path: 'DEBIAN/conffiles', contents: `${SPEC_PATH}\n` },
    { path: 'DEBIAN/postinst', contents: POSTINST, mode: 0o755 },
    { path: 'DEBIAN/prerm', contents: PRERM, mode: 0o755 },
    { path: 'DEBIAN/postrm', contents: POSTRM, mode: 0o755 },
  ];
}

/** The example spec with its `# yaml-language-server: $schema=` line pointing at the installed schema from `path`. */
export function withSchema(text: string, path: string): string {
  const schema = relative(dirname(`/${path}`), INSTALLED_SCHEMA);
  const line = /^# yaml-language-server: \$schema=.*$/m;
  if (!line.test(text)) throw new Error('examples/endpoint.yaml has no "# yaml-language-server: $schema=" line to point at the installed schema');
  return text.replace(line, `# yaml-language-server: $schema=${schema}`);
}

/**
 * What lintian reports that cannot change, and why. The executable is Node.js's own binary with our program
 * injected: Node links its copy of zlib statically and is built without PIE; both come with the runtime. The
 * copyright file carries every licence verbatim, Node.js's LICENSE (which quotes the Apache licence for its own
 * dependencies) among them, because the same file also travels in the container image, which has no
 * /usr/share/common-licenses.
 */
const LINTIAN_OVERRIDES = `# usr/bin/cluster-endpoint is a copy of the Node.js binary with the program injected (a single-executable
# application). Node.js links its own zlib statically and is built as a non-PIE executable; neither can change
# without building Node.js itself.
cluster-endpoint: embedded-library zlib [usr/bin/cluster-endpoint]
cluster-endpoint: hardening-no-pie [usr/bin/cluster-endpoint]
# Every licence is quoted in full, Node.js's LICENSE verbatim (it quotes Apache-2.0 for Node's own dependencies):
# the same file travels in the container image, which has no /usr/share/common-licenses.
cluster-endpoint: copyright-file-contains-full-apache-2-license
`;

// Maintainer scripts: POSIX sh with nothing but the shell's own builtins and systemctl when systemd runs, so they
// also work in a chroot (the package test installs into one).
const POSTINST = `#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload || true
    # An upgrade restarts a running serve (the unit validates the spec first); a first install starts nothing.
    if [ -n "$2" ]; then systemctl try-restart ${UNIT_NAME} || true; fi
  fi
  if [ -z "$2" ]; then
    echo "cluster-endpoint: edit ${SPEC_PATH}, then: cluster-endpoint validate -c ${SPEC_PATH} && systemctl enable --now cluster-endpoint"
  fi
fi
exit 0
`;

const PRERM = `#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ] && command -v deb-systemd-invoke >/dev/null 2>&1; then
  deb-systemd-invoke stop ${UNIT_NAME} || true
fi
exit 0
`;

const POSTRM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
fi
if [ "$1" = purge ]; then
  if command -v deb-systemd-helper >/dev/null 2>&1; then deb-systemd-helper purge ${UNIT_NAME} >/dev/null || true; fi
  rm -f /etc/systemd/system/multi-user.target.wants/${UNIT_NAME}
  # dpkg removes the spec (a conffile); the environment file with the VIP key and admin token is the operator's,
  # made as install.md says, and goes too. Files of their own (keys for LoadCredential=) stay, and so does the directory then.
  rm -f ${ENV_FILE}
  rmdir /etc/cluster-endpoint 2>/dev/null || true
fi
exit 0
`;
