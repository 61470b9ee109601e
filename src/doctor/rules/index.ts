// Every doctor rule, one per file, grouped by the kind of file it reads.
import type { AnyRule } from '../context.js';
import { birdBgpWithoutBfd } from './bird/bgp-without-bfd.js';
import { birdNoMergePaths } from './bird/no-merge-paths.js';
import { birdUnconditionalAnnounce } from './bird/unconditional-announce.js';
import { haproxyBalanceDefault } from './haproxy/balance-default.js';
import { haproxyDrift } from './haproxy/drift.js';
import { haproxyHealthzCheck } from './haproxy/healthz-check.js';
import { haproxyHttpchkWithoutSsl } from './haproxy/httpchk-without-ssl.js';
import { haproxyModeHttpApi } from './haproxy/mode-http-api.js';
import { haproxyNoShutdownSessions } from './haproxy/no-shutdown-sessions.js';
import { haproxyQuorum } from './haproxy/quorum.js';
import { haproxyServerWithoutCheck } from './haproxy/server-without-check.js';
import { haproxyShortTimeouts } from './haproxy/short-timeouts.js';
import { haproxySslHelloAfterHttpchk } from './haproxy/ssl-hello-after-httpchk.js';
import { haproxyTcpOnlyCheck } from './haproxy/tcp-only-check.js';
import { haproxyVerifyhostIp, haproxyVerifyIpSan } from './haproxy/tls-check-identity.js';
import { haproxyUnknownKeyword } from './haproxy/unknown-keyword.js';
import { keepalivedAuthPassLength } from './keepalived/auth-pass-length.js';
import { keepalivedDrift } from './keepalived/drift.js';
import { keepalivedDuplicateVrid } from './keepalived/duplicate-vrid.js';
import { keepalivedEqualMasters } from './keepalived/equal-masters.js';
import { keepalivedNopreemptNegativeWeight } from './keepalived/nopreempt-negative-weight.js';
import { keepalivedPeerMismatch } from './keepalived/peer-mismatch.js';
import { keepalivedPidofCheck } from './keepalived/pidof-check.js';
import { keepalivedScriptAfterInstance } from './keepalived/script-after-instance.js';
import { keepalivedScriptSecurity } from './keepalived/script-security.js';
import { keepalivedTcpConnectCheck } from './keepalived/tcp-connect-check.js';
import { keepalivedUnicastPeers } from './keepalived/unicast-peers.js';
import { keepalivedUnknownKeyword } from './keepalived/unknown-keyword.js';
import { keepalivedUnknownTrackScript } from './keepalived/unknown-track-script.js';
import { keepalivedVipSubnet } from './keepalived/vip-subnet.js';
import { keepalivedWeightGap } from './keepalived/weight-gap.js';
import { specEndpointIsNode } from './spec/endpoint-is-node.js';
import { specHealthzCheck } from './spec/healthz-check.js';
import { specHttpsCheckTalos } from './spec/https-check-talos.js';
import { specIdleTimeout } from './spec/idle-timeout.js';
import { specIpv6EndpointIpv4Bind } from './spec/ipv6-endpoint-ipv4-bind.js';
import { specKernelModeProxySettings } from './spec/kernel-mode-proxy-settings.js';
import { specBgpSessionWithoutBfd } from './spec/bgp-session-without-bfd.js';
import { specOnMarkedDownKeep } from './spec/on-marked-down-keep.js';
import { specPreserveClientIp } from './spec/preserve-client-ip.js';
import { specQuorum } from './spec/quorum.js';
import { specTcpCheckKubernetes } from './spec/tcp-check-kubernetes.js';
import { specValidate } from './spec/validate.js';
import { specVipWithoutPeers } from './spec/vip-without-peers.js';
import { talosCertSansEndpoint } from './talos/certsans-endpoint.js';
import { talosDrift } from './talos/drift.js';
import { talosEndpointIsNode } from './talos/endpoint-is-node.js';
import { talosEndpointUrl } from './talos/endpoint-url.js';
import { talosLegacyVip } from './talos/legacy-vip.js';
import { talosconfigEndpointPort } from './talos/talosconfig-endpoint-port.js';
import { talosconfigEndpointVip } from './talos/talosconfig-endpoint-vip.js';
import { talosVipLink } from './talos/vip-link.js';
import { talosVipOnWorker } from './talos/vip-on-worker.js';
import { talosVipSubnet } from './talos/vip-subnet.js';
import { terraformCrossZone } from './terraform/cross-zone.js';
import { terraformDrift } from './terraform/drift.js';
import { terraformHealthzCheck } from './terraform/healthz-check.js';
import { terraformHttpHealthCheckTlsPort } from './terraform/http-health-check-tls-port.js';
import { terraformNameLength } from './terraform/name-length.js';
import { terraformPreserveClientIp } from './terraform/preserve-client-ip.js';
import { terraformQuorum } from './terraform/quorum.js';
import { terraformTcpHealthCheckProtocol } from './terraform/tcp-health-check-protocol.js';

export const RULES: readonly AnyRule[] = [
  specValidate, specTcpCheckKubernetes, specHttpsCheckTalos, specHealthzCheck, specIdleTimeout, specVipWithoutPeers, specOnMarkedDownKeep,
  specPreserveClientIp, specEndpointIsNode, specQuorum, specIpv6EndpointIpv4Bind, specKernelModeProxySettings, specBgpSessionWithoutBfd,
  haproxyUnknownKeyword, haproxySslHelloAfterHttpchk, haproxyHttpchkWithoutSsl, haproxyHealthzCheck, haproxyTcpOnlyCheck, haproxyModeHttpApi,
  haproxyShortTimeouts, haproxyServerWithoutCheck, haproxyNoShutdownSessions, haproxyBalanceDefault, haproxyQuorum, haproxyDrift,
  haproxyVerifyhostIp, haproxyVerifyIpSan,
  keepalivedUnknownKeyword, keepalivedScriptAfterInstance, keepalivedUnknownTrackScript, keepalivedWeightGap, keepalivedPidofCheck, keepalivedTcpConnectCheck,
  keepalivedNopreemptNegativeWeight, keepalivedScriptSecurity, keepalivedDuplicateVrid, keepalivedUnicastPeers, keepalivedPeerMismatch,
  keepalivedEqualMasters, keepalivedAuthPassLength, keepalivedVipSubnet, keepalivedDrift,
  talosVipSubnet, talosVipOnWorker, talosVipLink, talosEndpointUrl, talosEndpointIsNode, talosconfigEndpointVip, talosconfigEndpointPort,
  talosCertSansEndpoint, talosLegacyVip, talosDrift,
  terraformTcpHealthCheckProtocol, terraformHttpHealthCheckTlsPort, terraformHealthzCheck, terraformPreserveClientIp, terraformCrossZone,
  terraformNameLength, terraformQuorum, terraformDrift,
  birdBgpWithoutBfd, birdUnconditionalAnnounce, birdNoMergePaths,
];
