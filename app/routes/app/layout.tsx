import { data, Link, NavLink, Outlet } from "react-router";
import { Flashes } from "~/components/site";
import { consumeFlash } from "~/server/flash.server";
import { pageUser } from "~/server/guards.server";
import { listWikis } from "~/server/wikis.server";
import type { Route } from "./+types/layout";

// The shell of every /app page (management.md §2): navbar with the handle and a logout form,
// sidebar with the user's wikis, and the flash area (messages are consumed here, once).
export async function loader(args: Route.LoaderArgs) {
  const { platform } = args.context;
  const user = await pageUser(args);
  const wikis = await listWikis(platform, user.did);
  const flash = consumeFlash(platform, args.request);
  return data(
    {
      handle: user.handle,
      isAdmin: user.is_admin,
      wikis: wikis.map((w) => ({ slug: w.slug, display_name: w.display_name })),
      flashes: flash.messages,
    },
    { headers: flash.setCookie ? { "Set-Cookie": flash.setCookie } : {} },
  );
}

const sidebarLink = ({ isActive }: { isActive: boolean }) => (isActive ? "active" : undefined);

export default function AppLayout({ loaderData }: Route.ComponentProps) {
  const { handle, isAdmin, wikis, flashes } = loaderData;
  return (
    <>
      <header className="navbar">
        <Link className="brand" to="/app/">
          <img src="/static/robot.wtf.svg" alt="" width={28} height={28} />
          <span>robot.wtf</span>
        </Link>
        <details className="user-menu">
          <summary>
            <span className="sr-only">Signed in as </span>@{handle}
          </summary>
          <div className="user-menu-items">
            {/* A plain form: /auth/logout is a document navigation, and POST is Origin-checked. */}
            <form method="post" action="/auth/logout">
              <button type="submit" className="link-button">
                Logout
              </button>
            </form>
          </div>
        </details>
      </header>
      <div className="app-shell">
        <nav className="sidebar" aria-label="Management">
          <h2 id="sidebar-wikis">Your wikis</h2>
          <ul aria-labelledby="sidebar-wikis">
            {wikis.map((w) => (
              <li key={w.slug}>
                <NavLink to={`/app/wiki/${encodeURIComponent(w.slug)}`} className={sidebarLink}>
                  {w.display_name}
                </NavLink>
              </li>
            ))}
          </ul>
          <ul>
            <li>
              <NavLink to="/app/create" className={sidebarLink}>
                Create wiki
              </NavLink>
            </li>
            <li>
              <NavLink to="/app/account" className={sidebarLink}>
                Account
              </NavLink>
            </li>
            {isAdmin ? (
              <li>
                <NavLink to="/app/admin/stats" className={sidebarLink}>
                  System status
                </NavLink>
              </li>
            ) : null}
          </ul>
        </nav>
        <main className="app-main">
          <Flashes messages={flashes} />
          <Outlet />
        </main>
      </div>
    </>
  );
}
