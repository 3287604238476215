/**
 * A real, offline ATProto network for end-to-end tests: an in-memory PLC
 * directory (@did-plc/server) plus a PDS (@atproto/pds) with its built-in
 * OAuth authorization server, both on loopback.
 *
 * Versions are pinned to what runs on Node 20 (see shared/stack-notes.md §3):
 * @atproto/pds 0.4.217, @did-plc/server 0.0.1, @atproto/crypto 0.4.5.
 */
import dns from 'node:dns'
import { mkdtemp, rm } from 'node:fs/promises'
import https from 'node:https'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import net from 'node:net'
import type { Server } from 'node:http'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { promisify } from 'node:util'
import { Secp256k1Keypair, randomStr } from '@atproto/crypto'
import { PDS, envToCfg, envToSecrets, type ServerEnvironment } from '@atproto/pds'
import { Database as PlcDatabase, PlcServer } from '@did-plc/server'
import type { Dispatcher } from 'undici'

export type LocalAccount = { did: string; handle: string }

export type LocalNetwork = {
  plcUrl: string
  pdsUrl: string
  /** Folder holding the PDS's SQLite files and blobs. */
  dataDir: string
  createAccount(handle: string, password: string, email?: string): Promise<LocalAccount>
  close(): Promise<void>
}

export type LocalNetworkOptions = {
  /** Parent folder for the PDS data; a fresh sub-folder is created and removed on close. */
  dataDir?: string
  /** Fixed PDS port; random when omitted. It becomes part of the OAuth issuer. */
  pdsPort?: number
  /** Fixed PLC port; random when omitted. */
  plcPort?: number
}

// Only ever bind loopback: the harness must not expose a PDS with a known
// admin password to the local network.
const LOOPBACK = '127.0.0.1'

export async function startLocalNetwork(opts: LocalNetworkOptions = {}): Promise<LocalNetwork> {
  const plc = await startPlc(opts.plcPort ?? 0)
  try {
    const pdsPort = opts.pdsPort ?? (await findFreePort())
    const dataDir = await mkdtemp(path.join(opts.dataDir ?? os.tmpdir(), 'robot-e2e-pds-'))
    const pds = await startPds(pdsPort, plc.url, dataDir).catch(async (err) => {
      await rm(dataDir, { recursive: true, force: true })
      throw err
    })
    return {
      plcUrl: plc.url,
      pdsUrl: pds.url,
      dataDir,
      createAccount: (handle, password, email) => createAccount(pds.url, handle, password, email),
      close: closeOnce(async () => {
        // PDS first: it may still talk to the PLC while shutting down.
        await pds.close()
        await plc.close()
        await rm(dataDir, { recursive: true, force: true })
      }),
    }
  } catch (err) {
    await plc.close()
    throw err
  }
}

type Running = { url: string; close(): Promise<void> }

async function startPlc(port: number): Promise<Running> {
  const server = PlcServer.create({ db: PlcDatabase.mock(), port })
  bindListenTo(server.app, LOOPBACK)
  const httpServer = await server.start()
  const actualPort = (httpServer.address() as net.AddressInfo).port
  // "localhost" rather than the IP, like @atproto/dev-env, so URLs look the
  // same as the PDS's (whose issuer must be http://localhost:<port>).
  return { url: `http://localhost:${actualPort}`, close: () => server.destroy() }
}

async function startPds(port: number, plcUrl: string, dataDir: string): Promise<Running> {
  const env = await pdsEnv(port, plcUrl, dataDir)
  const pds = await PDS.create(envToCfg(env), envToSecrets(env))
  bindListenTo(pds.app, LOOPBACK)
  // e.g. EADDRINUSE on a fixed port: release the databases and timers that
  // PDS.create opened, or the process would hang on them.
  await pds.start().catch(async (err: unknown) => {
    await pds.destroy().catch(() => {})
    throw err
  })
  return { url: `http://localhost:${port}`, close: () => pds.destroy() }
}

/**
 * Environment of a throwaway dev PDS (mirrors @atproto/dev-env's TestPds).
 * hostname 'localhost' makes publicUrl and the OAuth issuer
 * http://localhost:<port>; disableSsrfProtection lets it fetch client
 * metadata from loopback / private hosts and custom ports.
 */
async function pdsEnv(port: number, plcUrl: string, dataDir: string): Promise<ServerEnvironment> {
  const plcRotationKey = await Secp256k1Keypair.create({ exportable: true })
  const recoveryKey = await Secp256k1Keypair.create()
  return {
    devMode: true,
    port,
    hostname: 'localhost',
    serviceName: 'robot.wtf e2e PDS',
    dataDirectory: dataDir,
    blobstoreDiskLocation: path.join(dataDir, 'blobs'),
    didPlcUrl: plcUrl,
    recoveryDidKey: recoveryKey.did(),
    plcRotationKeyK256PrivateKeyHex: Buffer.from(await plcRotationKey.export()).toString('hex'),
    jwtSecret: randomStr(16, 'base32'),
    adminPassword: randomStr(16, 'base32'),
    serviceHandleDomains: ['.test'],
    inviteRequired: false,
    disableSsrfProtection: true,
    // Never contacted (no app view in the harness) but required by the config.
    bskyAppViewUrl: 'https://appview.invalid',
    bskyAppViewDid: 'did:example:appview',
    bskyAppViewCdnUrlPattern: 'https://cdn.invalid/%s/%s/%s',
    modServiceUrl: 'https://moderation.invalid',
    modServiceDid: 'did:example:moderation',
    crawlers: [],
  }
}

/**
 * PlcServer.start() and PDS.start() call `app.listen(port)`, which binds every
 * interface. Pin the host so the servers listen on loopback only, while still
 * going through their own start() (which also sets up terminators/sequencer).
 */
function bindListenTo(app: { listen: (...args: any[]) => Server }, host: string): void {
  const listen = app.listen.bind(app)
  app.listen = (port: number) => listen(port, host)
}

async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, LOOPBACK, () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => resolve(port))
    })
  })
}

async function createAccount(
  pdsUrl: string,
  handle: string,
  password: string,
  email = `${handle}@example.com`,
): Promise<LocalAccount> {
  const res = await fetch(new URL('/xrpc/com.atproto.server.createAccount', pdsUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ handle, password, email }),
  })
  const body = (await res.json()) as { did?: string; handle?: string; message?: string }
  if (!res.ok || !body.did || !body.handle) {
    throw new Error(`createAccount(${handle}) failed: ${res.status} ${body.message ?? JSON.stringify(body)}`)
  }
  return { did: body.did, handle: body.handle }
}

function closeOnce(fn: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined
  return () => (closing ??= fn())
}

// ---------------------------------------------------------------------------
// Production-shaped topology: a confidential client on https://*.e2e.internal
// ---------------------------------------------------------------------------

export type TrustInternalHostsOptions = {
  /** e.g. 'e2e.internal': the name itself and every `*.e2e.internal` map to 127.0.0.1. */
  hostSuffix: string
  /** PEM of the CA that signed the TLS certificates of those hosts (e.g. Caddy's local root). */
  caCertPem: string
}

const internalSuffixes = new Set<string>()
const extraCas = new Set<string>()
let dnsPatched = false

/**
 * Makes THIS process reach `https://<anything>.<hostSuffix>` on loopback with
 * a private CA — what the PDS needs to fetch a confidential client's
 * `client_id` metadata document and `jwks_uri` behind Caddy.
 *
 * Why this is enough for @atproto/pds 0.4.217: its OAuth provider fetches
 * client metadata / JWKS through `safeFetchWrap({ fetch: globalThis.fetch,
 * ssrfProtection: !disableSsrfProtection })`. With SSRF protection disabled
 * (as in the harness) that is plain `globalThis.fetch` — no unicast lookup, no
 * private dispatcher — so (1) the global undici dispatcher decides which CAs
 * are trusted and (2) the connection's name resolution goes through
 * `dns.lookup`. Patching both here covers it. Call before the first request.
 *
 * Node 20 has no `tls.setDefaultCACertificates`, and NODE_EXTRA_CA_CERTS is
 * only read at process start, hence the dispatcher.
 */
export function trustInternalHosts(opts: TrustInternalHostsOptions): void {
  internalSuffixes.add(normalizeHost(opts.hostSuffix))
  extraCas.add(opts.caCertPem)
  patchDnsOnce()
  installCaDispatcher([...extraCas])
}

function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/^\.+|\.+$/g, '')
}

export function isInternalHost(hostname: string): boolean {
  const host = normalizeHost(hostname)
  for (const suffix of internalSuffixes) {
    if (host === suffix || host.endsWith(`.${suffix}`)) return true
  }
  return false
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address?: any, family?: number) => void

function patchDnsOnce(): void {
  if (dnsPatched) return
  dnsPatched = true
  // Untyped on purpose: both have many overloads and we forward arguments as is.
  const originalLookup = dns.lookup.bind(dns) as (...args: unknown[]) => void
  const originalPromisesLookup = dns.promises.lookup.bind(dns.promises) as (...args: unknown[]) => Promise<unknown>

  // net/tls (and thus undici) call `dns.lookup` through the module object at
  // connect time, so replacing the property is picked up by new sockets.
  // Forms: (host, cb), (host, family, cb), (host, { family, all, … }, cb).
  const lookup = (hostname: string, ...rest: unknown[]) => {
    if (!isInternalHost(hostname)) return originalLookup(hostname, ...rest)
    const cb = rest[rest.length - 1] as LookupCallback
    const answer = loopbackAnswer(hostname, rest.length > 1 ? rest[0] : undefined)
    process.nextTick(() => {
      if (answer instanceof Error) cb(answer)
      else if (Array.isArray(answer)) cb(null, answer)
      else cb(null, answer.address, answer.family)
    })
  }
  const promisesLookup = async (hostname: string, options?: unknown) => {
    if (!isInternalHost(hostname)) return originalPromisesLookup(hostname, options)
    const answer = loopbackAnswer(hostname, options)
    if (answer instanceof Error) throw answer
    return answer
  }
  // util.promisify(dns.lookup) must keep resolving to { address, family }.
  Object.assign(lookup, { [promisify.custom]: promisesLookup })
  Object.assign(dns, { lookup })
  Object.assign(dns.promises, { lookup: promisesLookup })
  // Keep `import { lookup } from 'node:dns'` bindings in sync with the patch.
  syncBuiltinESMExports()
}

type LookupAddress = { address: string; family: number }

/** 127.0.0.1 in the shape dns.lookup was asked for (`family`/`all` options). */
function loopbackAnswer(hostname: string, options: unknown): LookupAddress | LookupAddress[] | Error {
  const opts = typeof options === 'number' ? { family: options } : ((options ?? {}) as { family?: unknown; all?: boolean })
  const family = opts.family === 'IPv6' ? 6 : opts.family === 'IPv4' ? 4 : Number(opts.family ?? 0)
  if (family === 6) {
    return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname })
  }
  const address = { address: LOOPBACK, family: 4 }
  return opts.all ? [address] : address
}

/**
 * Global fetch on Node 20 is undici: a global dispatcher whose TLS connector
 * trusts the public roots plus our CA. `setGlobalDispatcher` from the `undici`
 * package writes the same global symbol Node's built-in fetch reads. Loaded
 * lazily so the loopback-only harness does not need the package.
 */
function installCaDispatcher(cas: string[]): void {
  const require = createRequire(import.meta.url)
  let undici: { Agent: new (opts: object) => Dispatcher; setGlobalDispatcher(d: Dispatcher): void }
  try {
    undici = require('undici')
  } catch (err) {
    throw new Error(
      'trustInternalHosts needs the "undici" package (6.x, e.g. 6.29.1) to trust a private CA ' +
        'for global fetch on Node 20; alternatively start Node with NODE_EXTRA_CA_CERTS=<ca.pem>.',
      { cause: err },
    )
  }
  const ca = [...tls.rootCertificates, ...cas]
  undici.setGlobalDispatcher(new undici.Agent({ connect: { ca } }))
  // node:https users (e.g. axios) get the same trust.
  https.globalAgent.options.ca = ca
}
