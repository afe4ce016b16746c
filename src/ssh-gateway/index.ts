// The SSH gateway for IDEs: public surface used by the daemon.
export * from './config.js';
export * from './errors.js';
export * from './ports.js';
export { SshGateway, type SshGatewayDeps, type GatewayInfo } from './gateway.js';
export { RegisteredKey } from './key-store.js';
export { fingerprintOf, parsePublicKeyLine, ACCEPTED_KEY_TYPES } from './keys.js';
export { gatewayFiles } from './host-key.js';
