import { z } from 'zod';
import { API_ROUTES } from './routes.js';

/**
 * API tokens for the network listener: a program presents `Authorization: Bearer <token>`; the daemon keeps only a
 * hash. A token is shown once, when created.
 */
export const TOKEN_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
export const TokenName = z
  .string()
  .regex(
    TOKEN_NAME_PATTERN,
    'lower-case letters, digits, ".", "_" and "-", starting with a letter or digit, at most 63 characters',
  )
  .describe('Token name: what operators type in `aibox token revoke NAME`.');

export const TokenScope = z
  .enum(['sessions', 'admin'])
  .describe('sessions: create and drive its own sessions; admin: also manage tokens and every session.');
export type TokenScope = z.infer<typeof TokenScope>;

export const TeamName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a policy team name (teams/<team>/ in the policy repo)')
  .describe("The policy team whose layer applies to the token's sessions.");

/** POST /v1/tokens (root on the socket, or an admin token). */
export const CreateTokenRequest = z
  .object({
    name: TokenName,
    scope: TokenScope.default('sessions'),
    team: TeamName.optional(),
    expiresInSeconds: z
      .number()
      .int()
      .positive()
      .max(10 * 366 * 24 * 3600)
      .optional()
      .describe('Lifetime; no expiry when absent.'),
  })
  .strict();
export type CreateTokenRequest = z.input<typeof CreateTokenRequest>;

export const TokenInfo = z.object({
  id: z.string().describe('Public id (tok_…), also the first part of the token itself.'),
  name: z.string(),
  scope: TokenScope,
  team: z.string().optional(),
  createdAt: z.string(),
  expiresAt: z.string().optional(),
  revokedAt: z.string().optional(),
  state: z.enum(['active', 'expired', 'revoked']),
});
export type TokenInfo = z.infer<typeof TokenInfo>;

export const CreatedToken = TokenInfo.extend({
  token: z.string().describe('The bearer token. Shown once: aiboxd keeps only its hash.'),
});
export type CreatedToken = z.infer<typeof CreatedToken>;

export const TokenList = z.object({ tokens: z.array(TokenInfo) });
export type TokenList = z.infer<typeof TokenList>;

export const TokenRevokedReport = z.object({ revoked: z.string(), id: z.string() });
export type TokenRevokedReport = z.infer<typeof TokenRevokedReport>;

/** From the one table in routes.ts. */
export const TOKEN_ROUTES = API_ROUTES.tokens;

/** The stable codes of token refusals (src/tokens/errors.ts; a test keeps the two equal). */
export const TOKEN_ERROR_CODES = [
  'TOKEN_MISSING',
  'TOKEN_INVALID',
  'TOKEN_EXPIRED',
  'TOKEN_REVOKED',
  'TOKEN_SCOPE',
  'TOKEN_RATE_LIMITED',
  'TOKEN_NOT_FOUND',
  'TOKEN_NAME_TAKEN',
  'TOKEN_LIMIT',
  'TOKEN_STORE_UNREADABLE',
] as const;
export type TokenErrorCode = (typeof TOKEN_ERROR_CODES)[number];
