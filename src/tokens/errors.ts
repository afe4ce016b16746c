import { defineErrors } from '../shared/errors.js';

export const tokenErrors = defineErrors({
  TOKEN_MISSING: {
    status: 401,
    hint: 'Send `Authorization: Bearer <token>`; an operator creates one with `aibox token create NAME`.',
  },
  TOKEN_INVALID: {
    status: 401,
    hint: 'The token is not one aiboxd issued (or was mistyped); ask an operator for a new one (`aibox token create`).',
  },
  TOKEN_EXPIRED: {
    status: 401,
    hint: 'The token has expired; ask an operator for a new one (`aibox token create`).',
  },
  TOKEN_REVOKED: {
    status: 401,
    hint: 'The token was revoked; ask an operator for a new one (`aibox token create`).',
  },
  TOKEN_SCOPE: {
    status: 403,
    hint: 'This route needs a token with another scope (`aibox token create NAME --scope admin`).',
  },
  TOKEN_RATE_LIMITED: {
    status: 429,
    hint: 'Too many requests from this address were refused for their token: check the token, then retry after the Retry-After header’s seconds.',
  },
  TOKEN_NOT_FOUND: { status: 404, hint: 'List tokens with `aibox token list`.' },
  TOKEN_NAME_TAKEN: {
    status: 409,
    hint: 'Choose another name, or revoke the active token of that name first (`aibox token revoke NAME`).',
  },
  TOKEN_LIMIT: { status: 409, hint: 'Revoke tokens that are no longer used (`aibox token revoke NAME`).' },
  TOKEN_STORE_UNREADABLE: {
    status: 500,
    hint: 'The token file in the daemon state directory (tokens/tokens.json) is damaged: restore it or remove it and issue new tokens.',
  },
});
