// Wiki domain operations over robot.db. (Management operations join this module later.)
import type { Config } from "./config.server";
import type { Db } from "./db.server";

const LABEL = /^[a-z0-9-]{1,63}$/;

/**
 * The wiki slug a host name asks for (contracts.md §9): lowercase, one trailing dot removed,
 * `{label}.{host of PLATFORM_DOMAIN}` with exactly one label. Reserved names are not applied.
 */
export function slugForHost(config: Config, domain: string | null): string | undefined {
  if (!domain) return undefined;
  let host = domain.toLowerCase();
  if (host.endsWith(".")) host = host.slice(0, -1);
  const suffix = "." + config.domainHost;
  if (!host.endsWith(suffix)) return undefined;
  const label = host.slice(0, -suffix.length);
  return LABEL.test(label) ? label : undefined;
}

/** Caddy's on-demand TLS question: may a certificate be issued for this host? A primary-key lookup. */
export async function hostHasWiki(db: Db, config: Config, domain: string | null): Promise<boolean> {
  const slug = slugForHost(config, domain);
  if (!slug) return false;
  return (await db.wiki.findUnique({ where: { slug }, select: { slug: true } })) !== null;
}
