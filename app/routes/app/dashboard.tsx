import { Link } from "react-router";
import { wikiUrl } from "~/server/config.server";
import { canCreateWiki, listWikis, wikiUsage } from "~/server/wikis.server";
import { AppErrorBoundary, pageTitle } from "~/components/app";
import { forwardErrorHeaders, pageUser } from "~/server/guards.server";
import type { Route } from "./+types/dashboard";

export const meta: Route.MetaFunction = ({ error }) => pageTitle("Dashboard", error);

export const headers = forwardErrorHeaders;
export const ErrorBoundary = AppErrorBoundary;

// GET /app/ (D13): a card per owned wiki, or a call to action; never a redirect.
export async function loader(args: Route.LoaderArgs) {
  const { platform } = args.context;
  const user = await pageUser(args);
  const [wikis, canCreate] = await Promise.all([listWikis(platform, user.did), canCreateWiki(platform, user)]);
  return {
    domain: platform.config.domain,
    canCreate,
    wikis: wikis.map((w) => ({
      slug: w.slug,
      display_name: w.display_name,
      url: wikiUrl(platform.config, w.slug),
      host: `${w.slug}.${platform.config.domain}`,
      pages: w.page_count ?? 0,
      usage: wikiUsage(w),
      created: w.created_at.slice(0, 10),
    })),
  };
}

export default function Dashboard({ loaderData }: Route.ComponentProps) {
  const { wikis, canCreate, domain } = loaderData;
  return (
    <>
      <h1>Dashboard</h1>
      {wikis.length === 0 ? (
        <section className="card" aria-labelledby="create-your-wiki">
          <h2 id="create-your-wiki">Create your wiki</h2>
          <p>
            Get a wiki at <code>yourname.{domain}</code> in seconds.
          </p>
          <p>
            <Link className="button" to="/app/create">
              Create wiki
            </Link>
          </p>
        </section>
      ) : (
        <div className="cards">
          {wikis.map((w) => (
            <section key={w.slug} className="card wiki-card" aria-labelledby={`wiki-${w.slug}`}>
              <h2 id={`wiki-${w.slug}`}>{w.display_name}</h2>
              <p>
                <a href={w.url} target="_blank" rel="noopener noreferrer" className="muted">
                  {w.host}
                </a>
              </p>
              <ul className="facts">
                <li>{w.pages === 1 ? "1 page" : `${w.pages} pages`}</li>
                <li>{w.usage.disk}</li>
                <li>Created {w.created}</li>
              </ul>
              {w.usage.note ? <p className="hint">{w.usage.note}</p> : null}
              <p className="card-actions">
                <a className="button" href={w.url} target="_blank" rel="noopener noreferrer">
                  Open wiki
                </a>
                <Link className="button button-secondary" to={`/app/wiki/${encodeURIComponent(w.slug)}`}>
                  Settings
                </Link>
              </p>
            </section>
          ))}
        </div>
      )}
      {wikis.length > 0 && canCreate ? (
        <p>
          <Link to="/app/create">Create another wiki</Link>
        </p>
      ) : null}
    </>
  );
}
