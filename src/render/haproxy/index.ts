export { haproxyRenderer, monitor, renderHaproxyConfig, HAPROXY_CONFIG_PATH } from './haproxy.js';
