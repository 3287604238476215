// The outbound fetch (security.md §6) under the real OAuth library (@atproto/oauth-client-node
// 0.3.17) against a real local PLC + PDS (e2e/harness): handle resolution, DID document,
// metadata, PAR with its DPoP-nonce retry, and the token request all pass through it; and a
// refusal surfaces through the library's error wrappers where findOutboundRefusal finds it.
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  NodeOAuthClient,
  atprotoLoopbackClientMetadata,
  requestLocalLock,
  type NodeSavedSession,
  type NodeSavedState,
} from "@atproto/oauth-client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { completePdsLogin } from "../../e2e/harness/pds-login";
import { startLocalNetwork, type LocalNetwork } from "../../e2e/harness/network";
import { createLogger } from "../server/log.server";
import { PLATFORM_USER_AGENT, createOutboundFetch, findOutboundRefusal } from "../server/outbound.server";

const HANDLE = "alice.test";
const PASSWORD = "alice-password-1";

type Sent = { method: string; path: string; status: number; dpopNonceError: boolean };

let network: LocalNetwork;
let aliceDid: string;
beforeAll(async () => {
  network = await startLocalNetwork();
  aliceDid = (await network.createAccount(HANDLE, PASSWORD)).did;
}, 60_000);
afterAll(async () => network?.close());

function memoryStore<V>() {
  const map = new Map<string, V>();
  return {
    get: async (key: string) => map.get(key),
    set: async (key: string, value: V) => void map.set(key, value),
    del: async (key: string) => void map.delete(key),
  };
}

/** A loopback (dev) client whose every request goes through the outbound fetch, recorded. */
function clientWithOutboundFetch() {
  const sent: Sent[] = [];
  const outbound = createOutboundFetch({ allowHttpLoopback: true, userAgent: PLATFORM_USER_AGENT, log: createLogger("silent") });
  const recording: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const response = await outbound(request);
    const nonceError = response.status === 400 || response.status === 401 ? (await response.clone().text()).includes("use_dpop_nonce") : false;
    sent.push({ method: request.method, path: new URL(request.url).pathname, status: response.status, dpopNonceError: nonceError });
    return response;
  };
  const redirectUri = "http://127.0.0.1:5173/auth/callback";
  const client = new NodeOAuthClient({
    clientMetadata: atprotoLoopbackClientMetadata(`http://localhost?redirect_uri=${encodeURIComponent(redirectUri)}&scope=atproto`),
    handleResolver: network.pdsUrl,
    plcDirectoryUrl: network.plcUrl,
    allowHttp: true,
    requestLock: requestLocalLock,
    stateStore: memoryStore<NodeSavedState>(),
    sessionStore: memoryStore<NodeSavedSession>(),
    fetch: recording,
  });
  return { client, sent };
}

describe("outbound fetch with @atproto/oauth-client-node and a real PDS", () => {
  it("carries a whole login: resolution, metadata, PAR (with the DPoP nonce retry) and token", async () => {
    const { client, sent } = clientWithOutboundFetch();
    const authorizeUrl = await client.authorize(HANDLE);
    const redirect = await completePdsLogin(authorizeUrl.href, { identifier: HANDLE, password: PASSWORD });
    const { session } = await client.callback(new URL(redirect).searchParams);
    expect(session.did).toBe(aliceDid);

    const paths = sent.map((s) => s.path);
    expect(paths).toContain("/xrpc/com.atproto.identity.resolveHandle");
    expect(paths).toContain(`/${encodeURIComponent(aliceDid)}`); // the PLC document
    expect(paths).toContain("/.well-known/oauth-protected-resource");
    expect(paths).toContain("/.well-known/oauth-authorization-server");
    // The PDS demands a DPoP nonce: the first PAR is refused with use_dpop_nonce and the
    // library's retry (same body, new proof) succeeds — through our fetch both times.
    const par = sent.filter((s) => s.path === "/oauth/par");
    expect(par.map((s) => [s.status, s.dpopNonceError])).toEqual([
      [400, true],
      [201, false],
    ]);
    expect(sent.filter((s) => s.path === "/oauth/token").at(-1)?.status).toBe(200);
  }, 30_000);

  it("a redirecting PDS fails the login with an OutboundRefused in the error's cause chain", async () => {
    const target = { hits: 0 };
    const targetServer = http.createServer((_req, res) => {
      target.hits++;
      res.end("{}");
    });
    await new Promise<void>((resolve) => targetServer.listen(0, "127.0.0.1", resolve));
    const targetUrl = `http://127.0.0.1:${(targetServer.address() as AddressInfo).port}/`;
    const redirector = http.createServer((_req, res) => res.writeHead(302, { Location: targetUrl }).end());
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    try {
      const { client } = clientWithOutboundFetch();
      const pdsUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
      const err = await client.authorize(pdsUrl).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      expect(findOutboundRefusal(err)).toMatchObject({ kind: "redirect", reason: "redirect (302) not followed" });
      expect(target.hits).toBe(0);

      const refused = await client.authorize("https://pds.example.com:8443").catch((e: unknown) => e);
      expect(findOutboundRefusal(refused)).toMatchObject({ kind: "url", reason: "an explicit port is not allowed" });
    } finally {
      await Promise.all([targetServer, redirector].map((s) => new Promise((resolve) => s.close(resolve))));
    }
  });
});
