// Outbound requests (security.md §6). Every request the platform makes — handle and DID
// resolution, PDS / authorization-server metadata, PAR, token, revocation, the profile lookup —
// goes through the fetch made here, so the host names users type at the login form cannot point
// the server at itself, the cloud metadata service or the private network (SSRF).
//
// Order of checks, all BEFORE a connection is opened: URL rules → DNS (every address) → address
// ranges. The connection then goes to the checked addresses only (a per-request undici Agent
// whose `connect.lookup` answers from the checked list), so a second DNS answer can never
// change the target (DNS rebinding). TLS SNI and certificate checks stay on the URL's host name,
// because undici still connects "to" that name; only the name → address step is pinned.
//
// The response is buffered (≤ 1 MiB) before it is returned: the cap is a hard failure rather
// than a truncation, the total timeout covers the body too, and callers get a plain global
// `Response` whatever undici copy made the request.
//
// Every failure — a refusal by these rules, a timeout or a network error — throws
// `OutboundRefused` (with `kind` and `reason`) and is logged at warn with the URL minus its query.
// The OAuth library wraps thrown errors (FetchRequestError → OAuthResolverError …) keeping them
// as `cause`; `findOutboundRefusal` digs ours out again.
import { lookup as systemDnsLookup } from "node:dns/promises";
import type { LookupAddress } from "node:dns";
import { isIPv4, isIPv6 } from "node:net";
import { Agent, fetch as undiciFetch, type Response as UndiciResponse } from "undici";
import { version } from "../../package.json";
import { errorDetails, type Logger } from "./log.server";

export const PLATFORM_USER_AGENT = `robot.wtf-platform/${version}`;

/** Resolves a host name to ALL its addresses (injectable so tests need no real DNS). */
export type LookupFn = (hostname: string) => Promise<LookupAddress[]>;

export type OutboundFailureKind =
  | "url" // the URL rules (400-worthy: the input itself is unacceptable)
  | "dns" // the name does not resolve
  | "address" // it resolves to an address we must not reach
  | "redirect" // a 3xx answer (never followed)
  | "too_large" // body over the cap
  | "timeout" // total time exceeded
  | "network"; // connection, TLS or protocol error

export class OutboundRefused extends Error {
  override readonly name = "OutboundRefused";
  constructor(
    readonly kind: OutboundFailureKind,
    readonly reason: string,
    /** The request URL without query string or fragment (safe to log and show). */
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(`Outbound request to ${url} refused: ${reason}`, options);
  }
}

/** The OutboundRefused somewhere in an error's `cause` chain (the OAuth library wraps errors). */
export function findOutboundRefusal(err: unknown): OutboundRefused | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof OutboundRefused) return e;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// URL rules

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const FORBIDDEN_TLDS = new Set(["localhost", "local", "internal", "arpa"]);
// The WHATWG parser has already lower-cased the host and turned IDNs into xn-- labels.
const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function checkOutboundUrl(
  input: string | URL,
  opts: { allowHttpLoopback: boolean },
): { ok: true; url: URL } | { ok: false; reason: string } {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return { ok: false, reason: "not a valid URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "userinfo is not allowed" };
  const httpish = url.protocol === "https:" || url.protocol === "http:";
  // Dev mode / ATPROTO_ALLOW_HTTP_LOOPBACK: the local PDS, PLC and handle resolver.
  if (opts.allowHttpLoopback && httpish && LOOPBACK_HOSTS.has(url.hostname)) return { ok: true, url };
  if (url.protocol !== "https:") return { ok: false, reason: `scheme ${url.protocol} is not allowed (https only)` };
  // URL drops a default port (":443"), so `port` is set only for a non-default one.
  if (url.port !== "") return { ok: false, reason: "an explicit port is not allowed" };
  // The parser canonicalises numeric tricks (0x7f.1, 2130706433) to dotted IPv4.
  if (url.hostname.startsWith("[") || isIPv4(url.hostname)) return { ok: false, reason: "IP address hosts are not allowed" };
  const labels = url.hostname.split(".");
  if (labels.length < 2) return { ok: false, reason: "the host name needs at least two labels" };
  // Also refuses a trailing dot ("x.example.") — an empty label — and underscores.
  if (!labels.every((l) => DNS_LABEL.test(l))) return { ok: false, reason: "the host is not a valid DNS name" };
  const tld = labels[labels.length - 1];
  if (FORBIDDEN_TLDS.has(tld)) return { ok: false, reason: `.${tld} hosts are not allowed` };
  return { ok: true, url };
}

// ---------------------------------------------------------------------------------------------
// Address ranges. Own CIDR code (BigInt) so IPv4-mapped and NAT64 forms are explicit.

const V4_BLOCKED = cidrs(
  ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24"],
  ["192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4"],
);
const V6_BLOCKED = cidrs(["::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32"]);
// IPv6 forms that carry an IPv4 address in their low 32 bits: judged by that address.
const V6_EMBEDDING_V4 = cidrs(["::ffff:0:0/96", "64:ff9b::/96"]);

type Cidr = { base: bigint; prefix: number; bits: number };

function cidrs(...lists: string[][]): Cidr[] {
  return lists.flat().map((c) => {
    const [ip, prefix] = c.split("/");
    const v4 = isIPv4(ip);
    return { base: v4 ? v4ToBigInt(ip) : v6ToBigInt(ip), prefix: Number(prefix), bits: v4 ? 32 : 128 };
  });
}

function inCidr(value: bigint, { base, prefix, bits }: Cidr): boolean {
  const shift = BigInt(bits - prefix);
  return value >> shift === base >> shift;
}

function v4ToBigInt(ip: string): bigint {
  return ip.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** Only for strings `isIPv6` accepted (zone id already removed). */
function v6ToBigInt(ip: string): bigint {
  let text = ip;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text); // "::ffff:1.2.3.4" → two hex groups
  if (dotted) {
    const v4 = v4ToBigInt(dotted[1]);
    text = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.split("::");
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const groups =
    tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill("0"), ...tailGroups];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** True when `ip` is a public unicast address under security.md §6; false for anything unparsable. */
export function isPublicAddress(ip: string): boolean {
  const addr = ip.split("%")[0]; // a zone id ("fe80::1%eth0") does not change the range
  if (isIPv4(addr)) return !V4_BLOCKED.some((c) => inCidr(v4ToBigInt(addr), c));
  if (!isIPv6(addr)) return false;
  const value = v6ToBigInt(addr);
  if (V6_EMBEDDING_V4.some((c) => inCidr(value, c))) {
    const v4 = value & 0xffffffffn;
    return !V4_BLOCKED.some((c) => inCidr(v4, c));
  }
  return !V6_BLOCKED.some((c) => inCidr(value, c));
}

function isLoopbackAddress(ip: string): boolean {
  if (isIPv4(ip)) return ip.startsWith("127.");
  if (!isIPv6(ip)) return false;
  const value = v6ToBigInt(ip);
  return value === 1n || (inCidr(value, V6_EMBEDDING_V4[0]) && (value & 0xffffffffn) >> 24n === 127n);
}

// ---------------------------------------------------------------------------------------------
// The fetch

export type OutboundFetchOptions = {
  allowHttpLoopback: boolean;
  userAgent: string;
  log: Logger;
  lookup?: LookupFn;
  connectTimeoutMs?: number;
  totalTimeoutMs?: number;
  maxResponseBytes?: number;
};

/** Logs a refusal (warn, URL without query) and returns the error to throw. */
type Refuse = (kind: OutboundFailureKind, reason: string, cause?: unknown) => OutboundRefused;

const systemLookup: LookupFn = (hostname) => systemDnsLookup(hostname, { all: true });

export function createOutboundFetch(opts: OutboundFetchOptions): typeof fetch {
  const { allowHttpLoopback, userAgent, log, lookup = systemLookup } = opts;
  const connectTimeoutMs = opts.connectTimeoutMs ?? 2_000;
  const totalTimeoutMs = opts.totalTimeoutMs ?? 10_000;
  const maxResponseBytes = opts.maxResponseBytes ?? 1024 * 1024;

  async function outboundFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const rawUrl = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const logUrl = withoutQuery(rawUrl);
    const started = Date.now();
    const refuse: Refuse = (kind, reason, cause) => {
      log.warn({ url: logUrl, kind, reason, ...(cause ? { err: errorDetails(cause) } : {}) }, "outbound request refused");
      return new OutboundRefused(kind, reason, logUrl, { cause });
    };

    // Checked before `new Request`, which would throw its own TypeError for userinfo.
    const checked = checkOutboundUrl(rawUrl, { allowHttpLoopback });
    if (!checked.ok) throw refuse("url", checked.reason);
    const url = checked.url;
    // The global Request applies fetch's (input, init) merge rules for strings, URLs and Requests.
    const request = new Request(input, init);

    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timed out after ${totalTimeoutMs} ms`));
    }, totalTimeoutMs);
    const onCallerAbort = () => controller.abort(request.signal.reason);
    if (request.signal.aborted) onCallerAbort();
    else request.signal.addEventListener("abort", onCallerAbort, { once: true });
    let agent: Agent | undefined;

    try {
      const addresses = await checkedAddresses(url, controller.signal, refuse);
      agent = new Agent({ connect: { timeout: connectTimeoutMs, lookup: pinnedLookup(addresses) } });
      const headers = new Headers(request.headers);
      headers.set("user-agent", userAgent);
      const response = await undiciFetch(url, {
        method: request.method,
        headers: [...headers],
        // Buffered so the same bytes go out whatever body type the caller used (PAR sends a string).
        body: request.body ? new Uint8Array(await request.arrayBuffer()) : undefined,
        redirect: "manual",
        signal: controller.signal,
        dispatcher: agent,
      });
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel();
        throw refuse("redirect", `redirect (${response.status}) not followed`);
      }
      const bytes = await readCapped(response, maxResponseBytes);
      if (!bytes) throw refuse("too_large", `response body over ${maxResponseBytes} bytes`);

      // undici has decoded any gzip/br body: drop the encoding and give the real length.
      const outHeaders = new Headers();
      for (const [name, value] of response.headers) {
        if (name !== "content-encoding" && name !== "content-length") outHeaders.append(name, value);
      }
      const nullBody = response.status === 204 || response.status === 205;
      if (!nullBody) outHeaders.set("content-length", String(bytes.byteLength));
      const result = new Response(nullBody ? null : bytes, {
        status: response.status,
        statusText: response.statusText,
        headers: outHeaders,
      });
      Object.defineProperty(result, "url", { value: url.href });
      log.debug({ url: logUrl, method: request.method, status: response.status, ms: Date.now() - started }, "outbound request");
      return result;
    } catch (err) {
      if (err instanceof OutboundRefused) throw err;
      if (timedOut) throw refuse("timeout", `no complete response within ${totalTimeoutMs} ms`, err);
      if (request.signal.aborted) throw err; // the caller's own abort is the caller's business
      throw refuse("network", networkReason(err), err);
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", onCallerAbort);
      agent?.destroy().catch((err) => log.warn({ url: logUrl, err: errorDetails(err) }, "outbound agent close failed"));
    }
  }

  /** All addresses of the URL's host, each one allowed — or an OutboundRefused. */
  async function checkedAddresses(url: URL, signal: AbortSignal, refuse: Refuse): Promise<LookupAddress[]> {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    // Only a loopback NAME from the URL rules may reach loopback; anything else must be public.
    const loopbackName = allowHttpLoopback && LOOPBACK_HOSTS.has(url.hostname);
    let answer: LookupAddress[];
    if (isIPv4(host) || isIPv6(host)) {
      answer = [{ address: host, family: isIPv4(host) ? 4 : 6 }]; // URL rules let only loopback IPs through
    } else {
      try {
        answer = await abortable(lookup(host), signal);
      } catch (err) {
        if (signal.aborted) throw err;
        throw refuse("dns", `DNS lookup for ${host} failed: ${networkReason(err)}`, err);
      }
    }
    if (answer.length === 0) throw refuse("dns", `DNS lookup for ${host} returned no address`);
    for (const { address } of answer) {
      const allowed = loopbackName ? isLoopbackAddress(address) : isPublicAddress(address);
      if (!allowed) throw refuse("address", `${host} resolves to ${address}, which is not ${loopbackName ? "loopback" : "public unicast"}`);
    }
    return answer;
  }

  return outboundFetch as typeof fetch;
}

/** A `connect.lookup` that answers from the already-checked addresses and never asks DNS again. */
function pinnedLookup(addresses: LookupAddress[]) {
  return (
    _hostname: string,
    options: { all?: boolean },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    // Node's happy-eyeballs connect asks with `all: true`; plain connects want one address.
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0].address, addresses[0].family);
  };
}

/** The body, or null once it passes `max` bytes (then the rest is not read). */
async function readCapped(response: UndiciResponse, max: number): Promise<Uint8Array<ArrayBuffer> | null> {
  if (Number(response.headers.get("content-length")) > max) {
    await response.body?.cancel();
    return null;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    // Leaving the loop early cancels the stream.
    for await (const chunk of response.body) {
      size += chunk.byteLength;
      if (size > max) return null;
      chunks.push(chunk);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Rejects as soon as `signal` aborts. The lookup itself cannot be cancelled; its late result is dropped. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** undici wraps socket errors as TypeError("fetch failed", { cause }); name the real one. */
function networkReason(err: unknown): string {
  const root = err instanceof TypeError && err.cause instanceof Error ? err.cause : err;
  if (!(root instanceof Error)) return String(root);
  const code = (root as NodeJS.ErrnoException).code;
  return code ? `${code}: ${root.message}` : root.message;
}

function withoutQuery(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
