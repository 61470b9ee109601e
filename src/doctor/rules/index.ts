// Every doctor rule, one per file, grouped by the kind of file it reads.
import type { AnyRule } from '../context.js';
import { birdBgpWithoutBfd } from './bird/bgp-without-bfd.js';
import { birdNoMergePaths } from './bird/no-merge-paths.js';
import { birdUnconditionalAnnounce } from './bird/unconditional-announce.js';
import { haproxyBalanceDefault } from './haproxy/balance-default.js';
import { haproxyNoShutdownSessions } from './haproxy/no-shutdown-sessions.js';
import { haproxyServerWithoutCheck } from './haproxy/server-without-check.js';
import { haproxyShortTimeouts } from './haproxy/short-timeouts.js';
import { haproxySslHelloAfterHttpchk } from './haproxy/ssl-hello-after-httpchk.js';
import { haproxyTcpOnlyCheck } from './haproxy/tcp-only-check.js';
import { keepalivedNopreemptNegativeWeight } from './keepalived/nopreempt-negative-weight.js';
import { keepalivedPidofCheck } from './keepalived/pidof-check.js';
import { keepalivedScriptAfterInstance } from './keepalived/script-after-instance.js';
import { keepalivedScriptSecurity } from './keepalived/script-security.js';
import { keepalivedUnknownTrackScript } from './keepalived/unknown-track-script.js';
import { keepalivedWeightGap } from './keepalived/weight-gap.js';
import { specEndpointIsNode } from './spec/endpoint-is-node.js';
import { specIdleTimeout } from './spec/idle-timeout.js';
import { specOnMarkedDownKeep } from './spec/on-marked-down-keep.js';
import { specPreserveClientIp } from './spec/preserve-client-ip.js';
import { specTcpCheckKubernetes } from './spec/tcp-check-kubernetes.js';
import { specValidate } from './spec/validate.js';
import { specVipWithoutPeers } from './spec/vip-without-peers.js';
import { talosCertSansEndpoint } from './talos/certsans-endpoint.js';
import { talosLegacyVip } from './talos/legacy-vip.js';
import { talosconfigEndpointVip } from './talos/talosconfig-endpoint-vip.js';
import { talosVipSubnet } from './talos/vip-subnet.js';
import { terraformCrossZone } from './terraform/cross-zone.js';
import { terraformNameLength } from './terraform/name-length.js';
import { terraformPreserveClientIp } from './terraform/preserve-client-ip.js';
import { terraformTcpHealthCheckProtocol } from './terraform/tcp-health-check-protocol.js';

export const RULES: readonly AnyRule[] = [
  specValidate, specTcpCheckKubernetes, specIdleTimeout, specVipWithoutPeers, specOnMarkedDownKeep, specPreserveClientIp, specEndpointIsNode,
  haproxySslHelloAfterHttpchk, haproxyTcpOnlyCheck, haproxyShortTimeouts, haproxyServerWithoutCheck, haproxyNoShutdownSessions, haproxyBalanceDefault,
  keepalivedScriptAfterInstance, keepalivedUnknownTrackScript, keepalivedWeightGap, keepalivedPidofCheck, keepalivedNopreemptNegativeWeight, keepalivedScriptSecurity,
  talosVipSubnet, talosconfigEndpointVip, talosCertSansEndpoint, talosLegacyVip,
  terraformTcpHealthCheckProtocol, terraformPreserveClientIp, terraformCrossZone, terraformNameLength,
  birdBgpWithoutBfd, birdUnconditionalAnnounce, birdNoMergePaths,
];
