// Outbound requests (security.md §6). Interim version: URL rules only; the full module (DNS
// checks, pinned connections, no redirects, timeouts, size cap) replaces it.
export function checkOutboundUrl(url: string | URL, opts: { allowHttpLoopback: boolean }): { ok: true; url: URL } | { ok: false; reason: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, reason: "not a URL" };
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
  if (opts.allowHttpLoopback && loopback && (u.protocol === "http:" || u.protocol === "https:")) return { ok: true, url: u };
  if (u.protocol !== "https:") return { ok: false, reason: "scheme must be https" };
  if (u.username || u.password) return { ok: false, reason: "userinfo not allowed" };
  if (u.port) return { ok: false, reason: "explicit port not allowed" };
  const host = u.hostname;
  if (/^[\d.]+$/.test(host) || host.startsWith("[")) return { ok: false, reason: "IP literal not allowed" };
  const labels = host.split(".");
  if (labels.length < 2) return { ok: false, reason: "single-label host" };
  if (["localhost", "local", "internal", "arpa"].includes(labels[labels.length - 1])) return { ok: false, reason: "private-use name" };
  return { ok: true, url: u };
}

export function createOutboundFetch(_opts: { allowHttpLoopback: boolean }): typeof fetch {
  return (input, init) => fetch(input, { ...init, redirect: "manual" });
}
