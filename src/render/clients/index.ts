// render clients: the commands that point talosctl and kubectl at the cluster.
import { header } from '../header.js';
import type { RenderedFile, Renderer } from '../types.js';
import { defaultTalosNode, kubernetesApiUrl, talosEndpoints } from './endpoints.js';

export const CLIENTS_SCRIPT = 'clients.sh';

/** Quotes a word for sh when it holds anything but safe characters. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export const clientsRenderer: Renderer = {
  target: 'clients',
  description: 'talosctl and kubectl commands that point the clients at the endpoint (clients.sh)',
  render(spec, context): RenderedFile[] {
    const endpoints = talosEndpoints(spec);
    const lines = [
      '#!/bin/sh',
      header(context, '#').trimEnd(),
      'set -eu',
      '',
      '# talosctl talks to the control-plane nodes directly, never through the endpoint: a Talos VIP is only held',
      '# while etcd and the apiserver are healthy, so talosctl through it fails exactly when you need it to repair',
      '# them. talosctl fails over between the endpoints listed here by itself. Acts on the current talosctl context.',
      `talosctl config endpoint ${endpoints.map(shellWord).join(' ')}`,
      '',
      '# One default node, not all of them: `talosctl upgrade` or `reboot` on every control-plane node at once loses',
      '# etcd quorum. Pass -n <node> to act on another node.',
      `talosctl config node ${shellWord(defaultTalosNode(spec))}`,
      '',
      '# kubectl goes through the endpoint, which spreads requests over the healthy control-plane nodes.',
      `kubectl config set-cluster ${shellWord(spec.cluster.name)} --server=${shellWord(kubernetesApiUrl(spec))}`,
      '',
    ];
    return [{ path: CLIENTS_SCRIPT, contents: lines.join('\n') }];
  },
};
