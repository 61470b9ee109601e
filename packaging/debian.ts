// What goes into the Debian package: the executable, the systemd unit `render builtin` writes (pointed at
// /usr/bin and validating the spec first), the example spec as a conffile (dpkg keeps the operator's edits across
// upgrades), shell completions, and maintainer scripts that never start serve on an example spec.
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { renderUnit, SPEC_PATH, UNIT_NAME } from '../src/render/builtin/index.js';
import { parseSpec } from '../src/spec/load.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));

export const PACKAGE = 'cluster-endpoint';
export const INSTALLED_BINARY = '/usr/bin/cluster-endpoint';
export const EXAMPLE_SPEC = join(ROOT, 'examples/endpoint.yaml');

export interface DebianFile {
  /** Path inside the package root (no leading slash). */
  path: string;
  contents?: string;
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

export async function debianFiles(options: { version: string; architecture: string; executable: string }): Promise<DebianFile[]> {
  const exampleText = await readFile(EXAMPLE_SPEC, 'utf8');
  const example = parseSpec(exampleText, EXAMPLE_SPEC);
  if (!example.spec) throw new Error(`examples/endpoint.yaml is invalid: ${JSON.stringify(example.problems)}`);
  const unit = renderUnit(example.spec, { version: options.version, specName: SPEC_PATH, binary: INSTALLED_BINARY }, undefined, {
    install: [
      `# Installed by the ${PACKAGE} package. Edit ${SPEC_PATH}, check it with \`${PACKAGE} validate -c ${SPEC_PATH}\`,`,
      `# then: systemctl enable --now ${PACKAGE}. For a unit made for your spec (VIP clean-up, timeouts), run`,
      `# \`${PACKAGE} render builtin -c ${SPEC_PATH} -o DIR\` and copy it to /etc/systemd/system/ (it takes precedence).`,
    ],
  });
  const completions = await Promise.all((['bash', 'zsh', 'fish'] as const).map(async (shell) => (await run(options.executable, ['completion', shell])).stdout));
  const installedKb = Math.ceil((await stat(options.executable)).size / 1024) + 64;

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
    'Description: one stable, highly available address for a Kubernetes / Talos control plane',
    ' cluster-endpoint serves the Kubernetes API and the Talos API behind one address: a built-in L4',
    ' load balancer with health checks, draining and hot reload, a floating VIP shared by the LB hosts,',
    ' a status page, a JSON admin API and Prometheus metrics. It also renders configuration for AWS NLB,',
    ' HAProxy, Keepalived, Talos and DNS, and checks live endpoints. One executable, no Node.js needed.',
    '',
  ].join('\n');

  return [
    { path: 'usr/bin/cluster-endpoint', source: options.executable, mode: 0o755 },
    { path: `lib/systemd/system/${UNIT_NAME}`, contents: unit },
    { path: SPEC_PATH.slice(1), contents: exampleText },
    { path: 'usr/share/doc/cluster-endpoint/examples/endpoint.yaml', contents: exampleText },
    { path: 'usr/share/doc/cluster-endpoint/copyright', contents: COPYRIGHT },
    { path: 'usr/share/bash-completion/completions/cluster-endpoint', contents: completions[0] },
    { path: 'usr/share/zsh/vendor-completions/_cluster-endpoint', contents: completions[1] },
    { path: 'usr/share/fish/vendor_completions.d/cluster-endpoint.fish', contents: completions[2] },
    { path: 'DEBIAN/control', contents: control },
    { path: 'DEBIAN/conffiles', contents: `${SPEC_PATH}\n` },
    { path: 'DEBIAN/postinst', contents: POSTINST, mode: 0o755 },
    { path: 'DEBIAN/prerm', contents: PRERM, mode: 0o755 },
    { path: 'DEBIAN/postrm', contents: POSTRM, mode: 0o755 },
  ];
}

const COPYRIGHT = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: cluster-endpoint

Files: *
License: Apache-2.0
 The executable embeds Node.js (MIT) and the npm packages cluster-endpoint depends on
 (MIT, ISC, Apache-2.0, BSD-3-Clause, MPL-2.0 for @cdktn/hcl2json).
 On Debian systems the Apache License 2.0 is in /usr/share/common-licenses/Apache-2.0.
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
if [ "$1" = remove ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl stop ${UNIT_NAME} || true
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
  rmdir /etc/cluster-endpoint 2>/dev/null || true
fi
exit 0
`;
