import { API_ROUTES as R, routePath } from '../../shared/api/routes.js';
import type {
  CreatedToken,
  CreateTokenRequest,
  TokenList,
  TokenRevokedReport,
} from '../../shared/api/tokens.js';
import { bySchema } from '../api.js';
import type { ApiCore } from '../api.js';

const schemas = () => import('../../shared/api/tokens.js');

/** API tokens of the network listener (root only): issue one (its secret is shown once), list, revoke. */
export class TokensApi {
  constructor(private readonly api: ApiCore) {}

  async create(request: CreateTokenRequest): Promise<CreatedToken> {
    const s = await schemas();
    return this.api.json('POST', R.tokens.collection, bySchema(s.CreatedToken), request);
  }

  async list(): Promise<TokenList> {
    const s = await schemas();
    return this.api.json('GET', R.tokens.collection, bySchema(s.TokenList));
  }

  async revoke(name: string): Promise<TokenRevokedReport> {
    const s = await schemas();
    return this.api.json('DELETE', routePath(R.tokens.one, { name }), bySchema(s.TokenRevokedReport));
  }
}
