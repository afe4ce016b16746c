export { tokenErrors } from './errors.js';
export { TokenStore, requireScope, MAX_ACTIVE_TOKENS, type TokenPrincipal } from './store.js';
export { parseToken } from './secret.js';
