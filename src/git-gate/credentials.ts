/**
 * Where the gateway gets upstream tokens. The credentials module implements it over Vault or the embedded store;
 * until it is wired, the daemon passes a typed function. The value is only ever placed in the `Authorization` header
 * of the gateway's own git processes (via GIT_CONFIG_* environment, never argv, never a config file).
 */
export interface CredentialSource {
  get(name: string): Promise<string | undefined>;
}

/** Adapts a plain function (tests, early wiring) to a CredentialSource. */
export function credentialsFrom(
  fn: (name: string) => string | undefined | Promise<string | undefined>,
): CredentialSource {
  return { get: async (name) => fn(name) };
}

/** The `Authorization` header value for HTTP basic auth with a token. */
export function basicAuthHeader(username: string, token: string): string {
  return `Basic ${Buffer.from(`${username}:${token}`).toString('base64')}`;
}
