// A small fault-injecting ATProto network for integration tests (acceptance.md §0): one loopback
// HTTP server playing PLC directory, handle resolver, PDS (protected resource), authorization
// server (PAR with a DPoP nonce, authorize, token, revoke) and appview (profile). It checks what a
// real PDS checks on the calls the platform makes (DPoP proofs with the server nonce, PKCE S256,
// scope, client authentication) and records every call, so tests can make it misbehave on purpose.
import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from "jose";

export interface MockAccount {
  did: string;
  handle: string;
  displayName?: string;
  /** The DID document's `#atproto_pds` endpoint (default: this mock); `null` leaves the service out. */
  pds?: string | null;
  /** The handle the DID document claims (`alsoKnownAs`), when it differs from the one that resolves to this DID. */
  docHandle?: string;
}

export interface Faults {
  /** Token endpoint answers this status (e.g. 500). */
  tokenStatus?: number;
  /** Token endpoint never answers. */
  tokenHang?: boolean;
  /** Token response `sub` replaced by this DID. */
  tokenSub?: string;
  /** Token response `scope` replaced. */
  tokenScope?: string;
  /** AS metadata answers 500. */
  metadataStatus?: number;
  /** AS metadata is JSON that fails validation (wrong issuer). */
  metadataInvalid?: boolean;
  /** PAR answers this status. */
  parStatus?: number;
  /** Profile lookup answers this status. */
  profileStatus?: number;
  /** Revocation endpoint accepts the request and never answers. */
  revokeHang?: boolean;
}

export interface MockNetwork {
  url: string;
  issuer: string;
  accounts: Map<string, MockAccount>;
  faults: Faults;
  calls: { path: string; query: URLSearchParams; method: string; body?: Record<string, string>; headers: http.IncomingHttpHeaders }[];
  revoked: string[];
  addAccount(a: MockAccount): void;
  /** What the user's browser does at the authorization endpoint: approve and get the redirect. */
  approve(authorizeUrl: string): Promise<string>;
  close(): Promise<void>;
}

const b64url = (buf: Buffer) => buf.toString("base64url");

async function readBody(req: http.IncomingMessage): Promise<Record<string, string>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
}

export async function startMockNetwork(): Promise<MockNetwork> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://localhost:${port}`;
  const issuer = url;
  const accounts = new Map<string, MockAccount>();
  const faults: Faults = {};
  const calls: MockNetwork["calls"] = [];
  const revoked: string[] = [];
  const dpopNonce = b64url(crypto.randomBytes(16));
  const requests = new Map<string, Record<string, string>>(); // request_uri → PAR params
  const codes = new Map<string, { params: Record<string, string>; did: string }>();
  let nextDid: string | undefined;

  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  };

  const didDoc = (a: MockAccount) => ({
    "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
    id: a.did,
    alsoKnownAs: [`at://${a.docHandle ?? a.handle}`],
    verificationMethod: [
      { id: `${a.did}#atproto`, type: "Multikey", controller: a.did, publicKeyMultibase: "zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF" },
    ],
    service: a.pds === null ? [] : [{ id: "#atproto_pds", type: "AtprotoPersonalDataServer", serviceEndpoint: a.pds ?? url }],
  });

  /** A real AS requires a DPoP proof signed by the embedded key, for this URL, with our nonce. */
  async function checkDpop(req: http.IncomingMessage, htu: string): Promise<string | null> {
    const proof = req.headers.dpop;
    if (typeof proof !== "string") return "missing DPoP proof";
    const header = decodeProtectedHeader(proof);
    if (header.typ !== "dpop+jwt" || !header.jwk) return "bad DPoP header";
    try {
      const { payload } = await jwtVerify(proof, await importJWK(header.jwk as JWK, header.alg));
      if (payload.htm !== "POST" || payload.htu !== htu) return "DPoP htm/htu mismatch";
      if (payload.nonce !== dpopNonce) return "use_dpop_nonce";
    } catch {
      return "bad DPoP signature";
    }
    return null;
  }

  /** Confidential clients must send a private_key_jwt assertion; loopback clients none. */
  function checkClientAuth(body: Record<string, string>): string | null {
    if (body.client_id?.startsWith("http://localhost")) return body.client_assertion ? "public client sent an assertion" : null;
    if (body.client_assertion_type !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || !body.client_assertion)
      return "missing client assertion";
    const claims = decodeJwt(body.client_assertion);
    if (claims.iss !== body.client_id || claims.sub !== body.client_id || claims.aud !== issuer) return "bad client assertion claims";
    return null;
  }

  server.on("request", async (req, res) => {
    const u = new URL(req.url ?? "/", url);
    const body = req.method === "POST" ? await readBody(req) : undefined;
    calls.push({ path: u.pathname, query: u.searchParams, method: req.method ?? "GET", body, headers: req.headers });
    try {
      // PLC directory
      const decodedPath = decodeURIComponent(u.pathname);
      if (decodedPath.startsWith("/did:plc:")) {
        const a = accounts.get(decodedPath.slice(1));
        return a ? json(res, 200, didDoc(a)) : json(res, 404, { message: "DID not registered" });
      }
      switch (u.pathname) {
        case "/xrpc/com.atproto.identity.resolveHandle": {
          const a = [...accounts.values()].find((x) => x.handle === u.searchParams.get("handle"));
          return a ? json(res, 200, { did: a.did }) : json(res, 400, { error: "InvalidRequest", message: "Unable to resolve handle" });
        }
        case "/xrpc/app.bsky.actor.getProfile": {
          if (faults.profileStatus) return json(res, faults.profileStatus, { error: "InternalServerError" });
          const a = accounts.get(u.searchParams.get("actor") ?? "");
          return a ? json(res, 200, { did: a.did, handle: a.handle, displayName: a.displayName ?? "" }) : json(res, 400, { error: "NotFound" });
        }
        case "/.well-known/oauth-protected-resource":
          return json(res, 200, { resource: url, authorization_servers: [issuer], scopes_supported: [], bearer_methods_supported: ["header"] });
        case "/.well-known/oauth-authorization-server":
          if (faults.metadataStatus) return json(res, faults.metadataStatus, { error: "down" });
          return json(res, 200, {
            issuer: faults.metadataInvalid ? "http://localhost:1" : issuer,
            authorization_endpoint: `${url}/oauth/authorize`,
            token_endpoint: `${url}/oauth/token`,
            pushed_authorization_request_endpoint: `${url}/oauth/par`,
            revocation_endpoint: `${url}/oauth/revoke`,
            require_pushed_authorization_requests: true,
            client_id_metadata_document_supported: true,
            authorization_response_iss_parameter_supported: true,
            dpop_signing_alg_values_supported: ["ES256"],
            token_endpoint_auth_methods_supported: ["none", "private_key_jwt"],
            token_endpoint_auth_signing_alg_values_supported: ["ES256"],
            scopes_supported: ["atproto", "transition:generic"],
            response_types_supported: ["code"],
            response_modes_supported: ["query", "fragment", "form_post"],
            grant_types_supported: ["authorization_code", "refresh_token"],
            code_challenge_methods_supported: ["S256"],
          });
        case "/oauth/par": {
          if (faults.parStatus) return json(res, faults.parStatus, { error: "invalid_request", error_description: "refused by the mock" });
          const dpop = await checkDpop(req, `${url}/oauth/par`);
          if (dpop === "use_dpop_nonce") return json(res, 400, { error: "use_dpop_nonce" }, { "DPoP-Nonce": dpopNonce });
          if (dpop) return json(res, 400, { error: "invalid_dpop_proof", error_description: dpop });
          const auth = checkClientAuth(body!);
          if (auth) return json(res, 401, { error: "invalid_client", error_description: auth });
          if (body!.code_challenge_method !== "S256" || !body!.code_challenge) return json(res, 400, { error: "invalid_request", error_description: "PKCE S256 required" });
          if (!(body!.scope ?? "").split(" ").includes("atproto")) return json(res, 400, { error: "invalid_scope" });
          const requestUri = `urn:ietf:params:oauth:request_uri:req-${b64url(crypto.randomBytes(12))}`;
          requests.set(requestUri, body!);
          return json(res, 201, { request_uri: requestUri, expires_in: 300 }, { "DPoP-Nonce": dpopNonce });
        }
        case "/oauth/authorize": {
          const params = requests.get(u.searchParams.get("request_uri") ?? "");
          if (!params) return json(res, 400, { error: "invalid_request" });
          requests.delete(u.searchParams.get("request_uri")!);
          const hint = params.login_hint;
          const account = [...accounts.values()].find((a) => a.did === hint || a.handle === hint) ?? (nextDid ? accounts.get(nextDid) : undefined);
          if (!account) return json(res, 400, { error: "no account for login_hint" });
          const code = `cod-${b64url(crypto.randomBytes(16))}`;
          codes.set(code, { params, did: account.did });
          const back = new URL(params.redirect_uri);
          back.searchParams.set("state", params.state);
          back.searchParams.set("iss", issuer);
          back.searchParams.set("code", code);
          res.writeHead(302, { Location: back.href });
          return res.end();
        }
        case "/oauth/token": {
          if (faults.tokenHang) return; // never answers
          if (faults.tokenStatus) return json(res, faults.tokenStatus, { error: "server_error" });
          const dpop = await checkDpop(req, `${url}/oauth/token`);
          if (dpop === "use_dpop_nonce") return json(res, 400, { error: "use_dpop_nonce" }, { "DPoP-Nonce": dpopNonce });
          if (dpop) return json(res, 400, { error: "invalid_dpop_proof", error_description: dpop });
          const auth = checkClientAuth(body!);
          if (auth) return json(res, 401, { error: "invalid_client", error_description: auth });
          const grant = codes.get(body!.code ?? "");
          if (!grant) return json(res, 400, { error: "invalid_grant" });
          codes.delete(body!.code);
          const challenge = b64url(crypto.createHash("sha256").update(body!.code_verifier ?? "").digest());
          if (challenge !== grant.params.code_challenge) return json(res, 400, { error: "invalid_grant", error_description: "PKCE" });
          return json(res, 200, {
            access_token: `at-${b64url(crypto.randomBytes(16))}`,
            refresh_token: `rt-${b64url(crypto.randomBytes(16))}`,
            token_type: "DPoP",
            expires_in: 3600,
            scope: faults.tokenScope ?? "atproto",
            sub: faults.tokenSub ?? grant.did,
          }, { "DPoP-Nonce": dpopNonce });
        }
        case "/oauth/revoke":
          revoked.push(body?.token ?? "");
          if (faults.revokeHang) return; // never answers
          return json(res, 200, {});
      }
      json(res, 404, { error: "not found" });
    } catch (err) {
      json(res, 500, { error: String(err) });
    }
  });

  return {
    url,
    issuer,
    accounts,
    faults,
    calls,
    revoked,
    addAccount(a) {
      accounts.set(a.did, a);
      nextDid = a.did;
    },
    async approve(authorizeUrl) {
      const res = await fetch(authorizeUrl, { redirect: "manual" });
      const location = res.headers.get("location");
      if (res.status !== 302 || !location) throw new Error(`mock authorize answered ${res.status}: ${await res.text()}`);
      return location;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
