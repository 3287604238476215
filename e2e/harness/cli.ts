/**
 * Runs the local ATProto network (PLC + PDS) until SIGTERM/SIGINT.
 *
 *   tsx e2e/harness/cli.ts [--accounts alice.test:password,bob.test:password]
 *                          [--port-file FILE] [--pds-port N] [--plc-port N] [--data-dir DIR]
 *                          [--trust-internal e2e.internal --ca-file caddy-root.crt]
 *
 * Prints ONE JSON line on stdout once ready (also written to --port-file):
 *   {"plcUrl":…,"pdsUrl":…,"accounts":[{"handle","did","password"}]}
 * Everything else (progress, errors) goes to stderr, so callers can read the
 * first stdout line (or poll the port file) to know the network is up.
 *
 * --trust-internal/--ca-file prepare the production-shaped topology: the PDS
 * resolves *.<suffix> to 127.0.0.1 and trusts the CA (e.g. Caddy's local
 * root) when fetching a confidential client's metadata. The CA file is awaited
 * for a while, because Caddy writes it on its first start.
 */
import { existsSync } from 'node:fs'
import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { LocalNetwork } from './network'

const DEFAULT_ACCOUNTS = 'alice.test:password'
const CA_WAIT_MS = 30_000

type Account = { handle: string; password: string }

function parseCli() {
  const { values } = parseArgs({
    options: {
      accounts: { type: 'string', default: DEFAULT_ACCOUNTS },
      'port-file': { type: 'string' },
      'pds-port': { type: 'string' },
      'plc-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'trust-internal': { type: 'string' },
      'ca-file': { type: 'string' },
    },
    strict: true,
  })
  if (!values['trust-internal'] !== !values['ca-file']) {
    throw new Error('--trust-internal and --ca-file go together')
  }
  return {
    accounts: parseAccounts(values.accounts),
    portFile: values['port-file'],
    pdsPort: optionalPort(values['pds-port']),
    plcPort: optionalPort(values['plc-port']),
    dataDir: values['data-dir'],
    trustInternal: values['trust-internal'],
    caFile: values['ca-file'],
  }
}

function parseAccounts(spec: string): Account[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const colon = entry.indexOf(':')
      if (colon <= 0 || colon === entry.length - 1) throw new Error(`--accounts entry "${entry}" is not handle:password`)
      return { handle: entry.slice(0, colon), password: entry.slice(colon + 1) }
    })
}

function optionalPort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const port = Number(value)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port "${value}"`)
  return port
}

async function waitForFile(file: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`CA file ${file} did not appear within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 200))
  }
  return readFile(file, 'utf8')
}

/** Write-then-rename so a poller never reads a half-written file. */
async function writeAtomically(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, content)
  await rename(tmp, file)
}

function log(message: string): void {
  process.stderr.write(`[e2e-harness] ${message}\n`)
}

async function main(): Promise<void> {
  const args = parseCli()
  // stdout carries the one JSON line: if someone turns PDS logging on, send
  // pino to stderr. Must be set before @atproto/pds is loaded, hence the
  // dynamic import below.
  if (process.env.LOG_ENABLED && !process.env.LOG_DESTINATION) process.env.LOG_DESTINATION = '/dev/stderr'
  const { startLocalNetwork, trustInternalHosts } = await import('./network')

  if (args.trustInternal && args.caFile) {
    trustInternalHosts({ hostSuffix: args.trustInternal, caCertPem: await waitForFile(args.caFile, CA_WAIT_MS) })
    log(`trusting *.${args.trustInternal} → 127.0.0.1 with CA ${args.caFile}`)
  }

  const net = await startLocalNetwork({ dataDir: args.dataDir, pdsPort: args.pdsPort, plcPort: args.plcPort })
  // A stale port file would point the next reader at dead ports.
  const shutdown = async () => {
    if (args.portFile) await rm(args.portFile, { force: true })
    await net.close()
  }
  installShutdown(shutdown)
  const accounts = await createAccounts(net, args.accounts).catch(async (err) => {
    await shutdown()
    throw err
  })

  const line = JSON.stringify({ plcUrl: net.plcUrl, pdsUrl: net.pdsUrl, accounts })
  if (args.portFile) await writeAtomically(args.portFile, `${line}\n`)
  process.stdout.write(`${line}\n`)
  log(`ready: PDS ${net.pdsUrl}, PLC ${net.plcUrl} (${accounts.length} account(s)); stop with SIGTERM/SIGINT`)
}

async function createAccounts(net: LocalNetwork, wanted: Account[]) {
  const created = []
  for (const { handle, password } of wanted) {
    // Report the PDS's normalised handle, which is what logins will show.
    const account = await net.createAccount(handle, password)
    created.push({ handle: account.handle, did: account.did, password })
  }
  return created
}

/** First signal closes cleanly; a second one (impatient Ctrl-C) exits at once. */
function installShutdown(close: () => Promise<void>): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130)
    stopping = true
    log(`${signal}: closing`)
    close().then(
      () => process.exit(0),
      (err) => {
        log(`close failed: ${err}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}

main().catch((err) => {
  log(`failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  process.exit(1)
})
