/**
 * One-command check of the e2e harness, with timings:
 *
 *   TMPDIR=$(mktemp -d) node_modules/.bin/tsx e2e/harness/selfcheck.ts [--loopback-only]
 *
 * 1. starts the local PLC + PDS and creates alice.test;
 * 2. logs in three times with the development loopback client (public,
 *    client_id http://localhost?…) through the browserless PDS login;
 * 3. checks that a wrong password is refused;
 * 4. unless --loopback-only: the production-shaped confidential client
 *    (private_key_jwt, ES256) whose client_id is https on a `.e2e.internal`
 *    host with a private CA — a tiny node:https server plays the platform
 *    behind Caddy, serving the client metadata and JWKS; needs `openssl`.
 * Exits non-zero on the first failure.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {
  JoseKey,
  NodeOAuthClient,
  atprotoLoopbackClientMetadata,
  requestLocalLock,
  type NodeSavedSession,
  type NodeSavedState,
} from '@atproto/oauth-client-node'
import type { LocalNetwork } from './network'

const PASSWORD = 'alice-password-1'
const HANDLE = 'alice.test'
const INTERNAL_SUFFIX = 'e2e.internal'
const PLATFORM_HOST = `wtf.${INTERNAL_SUFFIX}`

const timings: Record<string, number> = {}
const loopbackOnly = process.argv.includes('--loopback-only')

async function main(): Promise<void> {
  // Dynamic imports so the (large) module load time can be measured.
  const { startLocalNetwork, trustInternalHosts } = await timed('import harness (pds, plc)', () => import('./network'))
  const { completePdsLogin } = await import('./pds-login')

  const net = await timed('start PLC + PDS', () => startLocalNetwork())
  try {
    const alice = await timed('create account', () => net.createAccount(HANDLE, PASSWORD))
    const client = loopbackClient(net, 5173)
    for (const n of [1, 2, 3]) {
      await timed(`loopback login #${n}`, () => loginAs(client, alice.did, completePdsLogin))
    }
    await timed('wrong password refused', () => expectWrongPasswordRefused(client, completePdsLogin))
    if (!loopbackOnly) await confidentialCheck(net, alice.did, trustInternalHosts, completePdsLogin)
  } finally {
    await timed('close', () => net.close())
  }
  report()
}

type LoginFn = typeof import('./pds-login').completePdsLogin

/** authorize → browserless PDS login → callback; the session must be alice's. */
async function loginAs(client: NodeOAuthClient, did: string, login: LoginFn): Promise<void> {
  const authorizeUrl = await client.authorize(HANDLE)
  const redirect = await login(authorizeUrl.href, { identifier: HANDLE, password: PASSWORD })
  const { session } = await client.callback(new URL(redirect).searchParams)
  if (session.did !== did) throw new Error(`session for ${session.did}, expected ${did}`)
}

async function expectWrongPasswordRefused(client: NodeOAuthClient, login: LoginFn): Promise<void> {
  const authorizeUrl = await client.authorize(HANDLE)
  try {
    await login(authorizeUrl.href, { identifier: HANDLE, password: 'not-the-password' })
  } catch (err) {
    if (String(err).includes('Invalid identifier or password')) return
    throw err
  }
  throw new Error('login with a wrong password succeeded')
}

/** The development client: public, loopback client_id, 127.0.0.1 redirect. */
function loopbackClient(net: LocalNetwork, port: number): NodeOAuthClient {
  const redirectUri = `http://127.0.0.1:${port}/auth/callback`
  const clientId = `http://localhost?redirect_uri=${encodeURIComponent(redirectUri)}&scope=atproto`
  return new NodeOAuthClient({
    clientMetadata: atprotoLoopbackClientMetadata(clientId),
    ...testClientOptions(net),
  })
}

/** Settings production must refuse, needed to reach the local PLC/PDS. */
function testClientOptions(net: LocalNetwork) {
  return {
    handleResolver: net.pdsUrl,
    plcDirectoryUrl: net.plcUrl,
    allowHttp: true,
    requestLock: requestLocalLock,
    stateStore: memoryStore<NodeSavedState>(),
    sessionStore: memoryStore<NodeSavedSession>(),
  }
}

function memoryStore<V>() {
  const map = new Map<string, V>()
  return {
    async get(key: string) {
      return map.get(key)
    },
    async set(key: string, value: V) {
      map.set(key, value)
    },
    async del(key: string) {
      map.delete(key)
    },
  }
}

// ---------------------------------------------------------------------------
// Confidential client on https://wtf.e2e.internal:<port> with a private CA
// ---------------------------------------------------------------------------

async function confidentialCheck(
  net: LocalNetwork,
  did: string,
  trustInternalHosts: typeof import('./network').trustInternalHosts,
  login: LoginFn,
): Promise<void> {
  const pki = makePki()
  try {
    trustInternalHosts({ hostSuffix: INTERNAL_SUFFIX, caCertPem: pki.caPem })
    const key = await JoseKey.generate(['ES256'], 'e2e-key-1')
    const platform = await startFakePlatform(pki, key)
    try {
      const sent = recordingFetch()
      const client = new NodeOAuthClient({
        clientMetadata: platform.metadata,
        keyset: [key],
        ...testClientOptions(net),
        fetch: sent.fetch,
      })
      // PAR is where the PDS first fetches client_id + jwks_uri and checks the
      // client assertion; the token request in callback() checks it again.
      await timed('confidential PAR (authorize)', () => client.authorize(HANDLE))
      await timed('confidential login', () => loginAs(client, did, login))
      const hits = platform.hits.join(', ')
      if (!platform.hits.includes('/auth/client-metadata.json') || !platform.hits.includes('/auth/jwks.json')) {
        throw new Error(`PDS did not fetch the client metadata and JWKS over https (hits: ${hits})`)
      }
      console.error(`[selfcheck] PDS fetched over https: ${hits}`)
      assertClientAssertionSent(sent.bodies, '/oauth/par')
      assertClientAssertionSent(sent.bodies, '/oauth/token')
    } finally {
      await platform.close()
    }
  } finally {
    rmSync(pki.dir, { recursive: true, force: true })
  }
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** Records form bodies the client POSTs, to prove it authenticated with private_key_jwt. */
function recordingFetch() {
  const bodies: Array<{ path: string; body: URLSearchParams }> = []
  const fetchFn: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    if (request.method === 'POST') {
      const body = new URLSearchParams(await request.clone().text())
      bodies.push({ path: new URL(request.url).pathname, body })
    }
    return fetch(request)
  }
  return { fetch: fetchFn, bodies }
}

function assertClientAssertionSent(bodies: Array<{ path: string; body: URLSearchParams }>, path: string): void {
  const calls = bodies.filter((b) => b.path === path)
  const ok = calls.length > 0 && calls.every((c) => c.body.get('client_assertion_type') === JWT_BEARER && c.body.get('client_assertion'))
  if (!ok) throw new Error(`expected every ${path} request to carry a private_key_jwt client assertion`)
  const header = JSON.parse(Buffer.from(calls[0].body.get('client_assertion')!.split('.')[0], 'base64url').toString())
  console.error(`[selfcheck] ${path}: ${calls.length} request(s) with client_assertion (alg ${header.alg}, kid ${header.kid})`)
}

type Pki = { dir: string; caPem: string; certPem: string; keyPem: string }

/** A throwaway CA and a leaf for wtf.e2e.internal + *.wtf.e2e.internal, like Caddy's internal CA. */
function makePki(): Pki {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'robot-e2e-pki-'))
  const f = (name: string) => path.join(dir, name)
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  openssl('req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2',
    '-subj', '/CN=robot e2e test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
  openssl('req', ...ec, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', `/CN=${PLATFORM_HOST}`)
  writeFileSync(f('leaf.ext'), [
    `subjectAltName=DNS:${PLATFORM_HOST},DNS:*.${PLATFORM_HOST}`,
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
  ].join('\n'))
  openssl('x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-out', f('leaf.crt'), '-days', '2', '-extfile', f('leaf.ext'))
  return {
    dir,
    caPem: readFileSync(f('ca.crt'), 'utf8'),
    certPem: readFileSync(f('leaf.crt'), 'utf8'),
    keyPem: readFileSync(f('leaf.key'), 'utf8'),
  }
}

/** Stands in for Caddy + the platform: serves the client metadata and JWKS over https. */
async function startFakePlatform(pki: Pki, key: JoseKey) {
  const hits: string[] = []
  let metadataJson = ''
  const jwksJson = JSON.stringify({ keys: [key.publicJwk] })
  const server = https.createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
    hits.push(req.url ?? '')
    const body = req.url === '/auth/client-metadata.json' ? metadataJson : req.url === '/auth/jwks.json' ? jwksJson : null
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(body ?? '{}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `https://${PLATFORM_HOST}:${(server.address() as AddressInfo).port}`
  const metadata = {
    client_id: `${origin}/auth/client-metadata.json`,
    client_name: 'robot.wtf (e2e)',
    client_uri: origin,
    redirect_uris: [`${origin}/auth/callback`] as [string],
    scope: 'atproto',
    grant_types: ['authorization_code', 'refresh_token'] as ['authorization_code', 'refresh_token'],
    response_types: ['code'] as ['code'],
    application_type: 'web' as const,
    token_endpoint_auth_method: 'private_key_jwt' as const,
    token_endpoint_auth_signing_alg: 'ES256',
    dpop_bound_access_tokens: true,
    jwks_uri: `${origin}/auth/jwks.json`,
  }
  metadataJson = JSON.stringify(metadata)
  return {
    metadata,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

// ---------------------------------------------------------------------------

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now()
  const result = await fn()
  timings[label] = Math.round(performance.now() - t0)
  console.error(`[selfcheck] ${label}: ${timings[label]} ms`)
  return result
}

function report(): void {
  const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20)
  console.log(JSON.stringify({ ok: true, timingsMs: timings, rssMb, processUptimeMs: Math.round(process.uptime() * 1000) }))
}

main().catch((err) => {
  console.error('[selfcheck] FAILED:', err)
  process.exitCode = 1
})
