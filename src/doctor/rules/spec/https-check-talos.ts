import { defineRule } from '../../context.js';
import { checkSetting, specLine } from './where.js';

/**
 * `type: https` GETs a path (/readyz) over TLS. apid, behind the Talos listeners, is a gRPC server that
 * demands a client certificate and has no such path: every Talos server is marked down. The trap is the
 * top-level healthCheck, meant for the Kubernetes API, silently applying to the Talos listeners too.
 */
export const specHttpsCheckTalos = defineRule({
  id: 'spec/https-check-talos',
  kind: 'spec',
  check(file) {
    const spec = file.result.spec;
    if (!spec) return [];
    const byLine = new Map<number, { names: string[]; inherited: boolean; index: number }>();
    spec.listeners.forEach((listener, index) => {
      if ((listener.role !== 'talos' && listener.role !== 'talos-workers') || listener.healthCheck.type !== 'https') return;
      const from = checkSetting(file, index, 'type');
      const line = from ? specLine(file, from.path) : specLine(file, ['listeners', index], ['healthCheck']);
      const entry = byLine.get(line) ?? { names: [], inherited: from?.inherited ?? false, index };
      entry.names.push(listener.name);
      byLine.set(line, entry);
    });
    return [...byLine].map(([line, { names, inherited, index }]) => ({
      severity: 'error' as const,
      line,
      message: inherited
        ? `the top-level healthCheck (type https, GET ${spec.listeners[index].healthCheck.path}) also applies to the Talos listener(s) ${names.join(', ')}`
        : `listener ${names[0]} checks the Talos API with type https (GET ${spec.listeners[index].healthCheck.path})`,
      why: 'apid (port 50000) is a gRPC server that requires a client certificate and serves no HTTP paths: the HTTPS check fails on every node, so every Talos server is marked down and talosctl through the endpoint breaks',
      source: 'docs/spec.md (a listener inherits the top-level healthCheck) ; https://www.talos.dev/v1.11/learn-more/talos-network-connectivity/ (apid: gRPC with mutual TLS on 50000)',
      fix: inherited
        ? `give ${names.join(', ')} a check of its own: listeners[${index}].healthCheck: { type: tcp } (or tls), or move the https check into the kubernetes listener`
        : `use type: tcp or tls for listeners[${index}]`,
    }));
  },
});
