export { type UnitOptions } from './systemd.js';
export { builtinRenderer, credentialFiles, descriptorLimit, MIN_DESCRIPTOR_LIMIT, renderUnit, renderUnits, stopTimeoutSeconds, CAPABILITIES, UNIT_NAME, SPEC_PATH, BINARY, ENV_FILE, NICE } from './systemd.js';
