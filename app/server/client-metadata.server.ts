// The app's ATProto client identity (contracts.md §4, auth.md §7.1 and §9). Production is a
// confidential web client; dev mode (http://127.0.0.1:<port>) uses the ATProto loopback client.
import type { Config } from "./config.server";
import { publicClientJwk, type Keys } from "./keys.server";

export const ATPROTO_SCOPE = "atproto";

export const callbackUrl = (config: Config) => `${config.origin}/auth/callback`;

/** The published client metadata document, exactly at its client_id URL. */
export function confidentialClientMetadata(config: Config, keys: Keys) {
  const jwk = publicClientJwk(keys.clientJwk);
  if ("d" in jwk) throw new Error("client metadata would publish a private key");
  return {
    client_id: `${config.origin}/auth/client-metadata.json`,
    client_name: "robot.wtf",
    client_uri: config.origin,
    application_type: "web" as const,
    dpop_bound_access_tokens: true as const,
    redirect_uris: [callbackUrl(config)] as [string],
    grant_types: ["authorization_code", "refresh_token"] as ["authorization_code", "refresh_token"],
    response_types: ["code"] as ["code"],
    scope: ATPROTO_SCOPE,
    token_endpoint_auth_method: "private_key_jwt" as const,
    token_endpoint_auth_signing_alg: "ES256" as const,
    jwks: { keys: [jwk] },
  };
}

/** The loopback client_id of dev mode: `http://localhost?redirect_uri=…&scope=atproto`. */
export function loopbackClientId(config: Config): string {
  const params = new URLSearchParams({ redirect_uri: callbackUrl(config), scope: ATPROTO_SCOPE });
  return `http://localhost?${params.toString()}`;
}

export const clientIdInUse = (config: Config, keys: Keys) =>
  config.devMode ? loopbackClientId(config) : confidentialClientMetadata(config, keys).client_id;
