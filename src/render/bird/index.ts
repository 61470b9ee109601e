// `render bird`: BIRD 2 next to HAProxy, for LB hosts that announce the endpoint with BGP without serve. The
// same bird.conf serve writes (src/bgp/config.ts), logging to syslog, plus a health loop that enables the
// endpoint's route while a kube-apiserver answers through the local HAProxy and disables it otherwise, and the
// systemd unit that runs the loop. One set of files serves every LB host (router id auto differs per host).
import { isIP } from 'node:net';
import { birdConfig, ENDPOINT_PROTOCOL } from '../../bgp/config.js';
import { joinHostPort } from '../../spec/address.js';
import { UserError } from '../../errors.js';
import { mainListener } from '../../spec/listener-role.js';
import type { Spec } from '../../spec/types.js';
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
    if (!spec.bgp) throw new UserError('RENDER', 'render bird needs a bgp section in the spec', { hint: 'add bgp: { localAsn, peers: [{ name, address, asn }] } (docs/bgp.md)' });
    if (isIP(spec.endpoint) === 0) throw new UserError('RENDER', `endpoint: "${spec.endpoint}" is a name; BGP announces an address`, { hint: 'set endpoint to the anycast address' });
    const kubernetes = mainListener(spec);
    const config = birdConfig({ endpoint: spec.endpoint, bgp: spec.bgp, log: 'syslog', header: header(context, '#').trimEnd().split('\n').map((l) => l.replace(/^# /, '')) });
    return [
      { path: 'bird.conf', contents: config },
      { path: 'bgp-health.sh', contents: healthScript(spec, kubernetes.port, context) },
      { path: 'cluster-endpoint-bgp-health.service', contents: healthUnit(context) },
    ];
  },
};

function healthScript(spec: Spec, port: number, context: RenderContext): string {
  const endpoint = spec.endpoint;
  const prefix = `${endpoint}/${isIP(endpoint) === 6 ? 128 : 32}`;
  const url = `https://${joinHostPort(endpoint, port)}/readyz`;
  const { intervalS, timeoutS, rise, fall, resendS } = HEALTH_LOOP;
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
ip addr replace ${prefix} dev lo
want=down; ok=0; failed=0; since=0
tell() { $BIRDC "$1" ${ENDPOINT_PROTOCOL} >/dev/null && since=0; }
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

function healthUnit(context: RenderContext): string {
  return `${header(context, '#').trimEnd()}
# Install bgp-health.sh as ${SCRIPT_PATH} (mode 0755) and bird.conf as /etc/bird/bird.conf.
[Unit]
Description=cluster-endpoint: announce the endpoint with BGP while HAProxy can serve it
After=bird.service haproxy.service
Requires=bird.service
# Stopped before HAProxy (reverse of After=): the route goes before the balancer does.

[Service]
ExecStart=${SCRIPT_PATH}
ExecStopPost=-/usr/sbin/birdc -s ${BIRD_CONTROL} disable ${ENDPOINT_PROTOCOL}
Restart=always
RestartSec=2s
TimeoutStopSec=30s

[Install]
WantedBy=multi-user.target
`;
}
