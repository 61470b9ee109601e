export { haproxyRenderer, localFrontend, renderHaproxyConfig, HAPROXY_CONFIG_PATH } from './haproxy.js';
