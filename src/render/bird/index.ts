// `render bird`: BIRD 2 next to HAProxy, for LB hosts that announce the endpoint with BGP without serve. The
// same bird.conf serve writes (src/bgp/config.ts), logging to syslog, plus a health loop that enables the
// endpoint's route while a kube-apiserver answers through the local HAProxy and disables it otherwise, and the
// systemd unit that runs the loop. One bird.conf serves every LB host (router id auto differs per host), or one
// per host (<host>/bird.conf) when the spec gives hosts their own settings (bgp.hosts).
import { isIP } from 'node:net';
import { birdConfig, endpointRoutes, type EndpointRoute } from '../../bgp/config.js';
import { joinHostPort } from '../../spec/address.js';
import { Refusals } from '../refusals.js';
import { bgpForHost } from '../../spec/hosts.js';
import { mainListener } from '../../spec/listener-role.js';
import type { Bgp, Spec } from '../../spec/types.js';
import { header } from '../header.js';
import type { RenderContext, RenderedFile, Renderer } from '../types.js';

/** The health loop's timing: HAProxy's own checks decide which servers are up; this only asks whether any is. */
export const HEALTH_LOOP = { intervalS: 1, timeoutS: 2, rise: 2, fall: 2, resendS: 10 } as const;
/** Debian's bird2 package: its unit reads /etc/bird/bird.conf and listens on /run/bird/bird.ctl. */
const BIRD_CONTROL = '/run/bird/bird.ctl';
const SCRIPT_PATH = '/usr/local/lib/cluster-endpoint/bgp-health.sh';

export const birdRenderer: Renderer = {
  target: 'bird',
  description: 'BIRD 2 configuration announcing the endpoint with BGP from each LB host, and a health loop that withdraws it when the local HAProxy has no healthy server',
  section: { name: 'bgp', present: (spec) => spec.bgp !== undefined },
  render(spec: Spec, context: RenderContext): RenderedFile[] {
    refusalsOf(spec).throwIfAny();
    // refusalsOf refuses a spec without one.
    const bgp = spec.bgp!;
    const kubernetes = mainListener(spec);
    const head = header(context, '#').trimEnd().split('\n').map((l) => l.replace(/^# /, ''));
    const configs = bgp.hosts.length === 0
      ? [{ path: 'bird.conf', contents: birdConfig({ addresses: bgp.addresses, bgp, log: 'syslog', header: head }) }]
      : bgp.hosts.map((host) => ({ path: `${host.name}/bird.conf`, contents: birdConfig({ addresses: bgp.addresses, bgp: bgpForHost(bgp, host), log: 'syslog', header: [...head, `For LB host ${host.name}.`] }) }));
    const routes = endpointRoutes(bgp.addresses);
    return [
      ...configs,
      { path: 'bgp-health.sh', contents: healthScript(spec, routes, kubernetes.port, context) },
      { path: 'cluster-endpoint-bgp-health.service', contents: healthUnit(routes, bgp.hosts.length > 0, context) },
    ];
  },
};

/** What render bird cannot write for this spec, every one at once (src/render/refusals.ts), each naming its field. */
function refusalsOf(spec: Spec): Refusals<'bird'> {
  const refusals = new Refusals('bird');
  const bgp = spec.bgp;
  if (!bgp) {
    refusals.add('bgp', 'render bird needs a bgp section in the spec', 'add bgp: { localAsn, peers: [{ name, address, asn }] } (docs/bgp.md)');
    return refusals;
  }
  if (bgp.addresses.some((a) => isIP(a) === 0)) refusals.add('endpoint', `"${spec.endpoint}" is a name; BGP announces an address`, 'set endpoint to the anycast address, or list the addresses in bgp.addresses');
  refuseSecrets(refusals, bgp);
  return refusals;
}

/** A password read from a file on the LB host cannot be in files rendered elsewhere: say so rather than drop it. */
function refuseSecrets(refusals: Refusals<'bird'>, bgp: Bgp): void {
  const lists = [
    { field: 'bgp.peers[].passwordFile' as const, path: 'bgp.peers', peers: bgp.peers },
    ...bgp.hosts.map((h, i) => ({ field: 'bgp.hosts[].peers[].passwordFile' as const, path: `bgp.hosts[${i}].peers`, peers: h.peers })),
  ];
  for (const { field, path, peers } of lists) {
    peers.forEach((peer, index) => {
      if (peer.passwordFile === undefined) return;
      refusals.add(field, 'render bird writes files you copy to the LB hosts and does not read or copy secrets, and BIRD takes the MD5 password inline', `run serve on the LB hosts (it reads the file at start), or remove passwordFile for render bird and add password "<secret>"; to protocol bgp peer_${peer.name.replace(/-/g, '_')} in /etc/bird/bird.conf on the host (mode 0640, group bird)`, `${path}[${index}].passwordFile`);
    });
  }
}

function healthScript(spec: Spec, routes: EndpointRoute[], port: number, context: RenderContext): string {
  const first = spec.bgp!.addresses[0];
  const prefix = routes.map((r) => r.prefix).join(' and ');
  const url = `https://${joinHostPort(first, port)}/readyz`;
  const { intervalS, timeoutS, rise, fall, resendS } = HEALTH_LOOP;
  const tell = routes.map((r) => `$BIRDC "$1" ${r.protocol} >/dev/null`).join(' && ');
  return `#!/bin/sh
${header(context, '#').trimEnd()}
#
# Announces ${prefix} with BIRD while this host's HAProxy can reach a kube-apiserver, and withdraws it otherwise.
# "Can reach" = an HTTPS request to the endpoint through HAProxy gets any HTTP answer: with every server down
# HAProxy still accepts the TCP connection and closes it, so a TCP connect alone would keep announcing a dead
# balancer. ${rise} answers in a row announce, ${fall} failures in a row withdraw; the wanted state is sent to BIRD
# again every ${resendS}s, so a restarted BIRD (its config starts withdrawn) is corrected. On SIGTERM it withdraws,
# waits ${spec.bgp!.withdrawDelayMs / 1000}s for the routers, then exits: stop it before HAProxy.
set -u
BIRDC="birdc -s ${BIRD_CONTROL}"
${routes.map((r) => `ip addr replace ${r.prefix} dev lo`).join('\n')}
want=down; ok=0; failed=0; since=0
tell() { ${tell} && since=0; }
stop() { tell disable; sleep ${spec.bgp!.withdrawDelayMs / 1000}; exit 0; }
trap stop TERM INT
tell disable
while :; do
  if curl -sk -o /dev/null --max-time ${timeoutS} ${url}; then ok=$((ok + 1)); failed=0; else failed=$((failed + 1)); ok=0; fi
  if [ "$want" = down ] && [ "$ok" -ge ${rise} ]; then want=up; logger -t bgp-health "announcing ${prefix}"; tell enable
  elif [ "$want" = up ] && [ "$failed" -ge ${fall} ]; then want=down; logger -t bgp-health "withdrawing ${prefix}: no kube-apiserver answers through HAProxy"; tell disable
  elif [ "$since" -ge ${resendS} ]; then if [ "$want" = up ]; then tell enable; else tell disable; fi
  fi
  since=$((since + ${intervalS}))
  sleep ${intervalS} & wait $!
done
`;
}

function healthUnit(routes: EndpointRoute[], perHost: boolean, context: RenderContext): string {
  return `${header(context, '#').trimEnd()}
# Install bgp-health.sh as ${SCRIPT_PATH} (mode 0755) and ${perHost ? 'the host\'s <host>/bird.conf' : 'bird.conf'} as /etc/bird/bird.conf.
[Unit]
Description=cluster-endpoint: announce the endpoint with BGP while HAProxy can serve it
After=bird.service haproxy.service
Requires=bird.service
# Stopped before HAProxy (reverse of After=): the route goes before the balancer does.

[Service]
ExecStart=${SCRIPT_PATH}
${routes.map((r) => `ExecStopPost=-/usr/sbin/birdc -s ${BIRD_CONTROL} disable ${r.protocol}`).join('\n')}
Restart=always
RestartSec=2s
TimeoutStopSec=30s

[Install]
WantedBy=multi-user.target
`;
}
