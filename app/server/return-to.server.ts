// The ONE return_to rule (D5, security.md §4), used on input (login GET/POST) and again at the
// point of use (callback). Unsafe values are dropped silently; callers fall back to /app/.
import type { Config } from "./config.server";

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function safeReturnTo(config: Config, candidate: string | null | undefined): string | undefined {
  const s = candidate ?? "";
  if (!s || s.length > 2048) return undefined;
  // Browsers strip tabs/newlines and treat "\" as "/": refuse them (and spaces) anywhere.
  if (/[\\ \u0000-\u001f\u007f]/.test(s)) return undefined;

  if (s.startsWith("/")) {
    if (s[1] === "/") return undefined;
    try {
      const url = new URL(s, config.origin);
      if (url.origin !== config.origin) return undefined;
      // Used verbatim as Location, but a header carries bytes (a Fetch header value cannot hold
      // U+2028 at all): anything beyond ASCII is sent percent-encoded, as a browser requests it.
      return /[^\x00-\x7f]/.test(s) ? url.pathname + url.search + url.hash : s;
    } catch {
      return undefined;
    }
  }

  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return undefined;
  }
  if (url.username || url.password) return undefined;
  if (url.origin === config.origin) return url.href;
  // A wiki subdomain: one label under the platform host, same scheme and port as the platform.
  const suffix = "." + config.domainHost;
  if (url.protocol === `${config.scheme}:` && url.port === config.domainPort && url.hostname.endsWith(suffix)) {
    const label = url.hostname.slice(0, -suffix.length);
    if (LABEL.test(label)) return url.href;
  }
  if (config.devMode && url.protocol === "http:" && (url.hostname === "localhost" || url.hostname === "127.0.0.1")) return url.href;
  return undefined;
}
