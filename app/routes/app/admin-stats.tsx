import { data } from "react-router";
import { systemStatus } from "~/server/admin.server";
import { AppErrorBoundary, pageTitle, RowTable } from "~/components/app";
import { forwardErrorHeaders, pageUser } from "~/server/guards.server";
import type { Route } from "./+types/admin-stats";

export const meta: Route.MetaFunction = ({ error }) => pageTitle("System Status", error);

export const headers = forwardErrorHeaders;
export const ErrorBoundary = AppErrorBoundary;

// GET /app/admin/stats (management.md §3.5): admins only; always 200 for them, each block degrading on its own.
export async function loader(args: Route.LoaderArgs) {
  const user = await pageUser(args);
  if (!user.is_admin) throw data("Admins only.", { status: 403 });
  return systemStatus(args.context.platform);
}

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;

export default function AdminStats({ loaderData }: Route.ComponentProps) {
  const { services, disk, counts, wikis, journal } = loaderData;
  return (
    <>
      <h1>System Status</h1>
      <section className="card" aria-labelledby="card-services">
        <h2 id="card-services">Services</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {services.map((s) => (
              <tr key={s.unit}>
                <td>{s.unit}</td>
                <td className={s.active ? "status-active" : "status-other"}>{s.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section className="card" aria-labelledby="card-disk">
        <h2 id="card-disk">Disk Usage ({disk.path})</h2>
        <RowTable
          rows={[
            ["Used", `${disk.usedGb} GB`],
            ["Free", `${disk.freeGb} GB`],
            ["Total", `${disk.totalGb} GB`],
            ["Usage", `${disk.percent}%`],
          ]}
        />
      </section>
      <section className="card" aria-labelledby="card-counts">
        <h2 id="card-counts">Platform Counts</h2>
        <RowTable
          rows={[
            ["Wikis", counts.wikis],
            ["Users", counts.users],
          ]}
        />
      </section>
      <section className="card" aria-labelledby="card-wikis">
        <h2 id="card-wikis">All Wikis</h2>
        {counts.wikis > wikis.length && wikis.length > 0 ? (
          <p>
            The newest {wikis.length.toLocaleString("en-US")} of {counts.wikis.toLocaleString("en-US")} wikis.
          </p>
        ) : null}
        {wikis.length === 0 ? (
          <p>No wikis yet.</p>
        ) : (
          <div className="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Slug</th>
                  <th scope="col">Display Name</th>
                  <th scope="col">Owner</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last Accessed</th>
                  <th scope="col">Pages</th>
                  <th scope="col">Disk</th>
                </tr>
              </thead>
              <tbody>
                {wikis.map((w) => (
                  <tr key={w.slug}>
                    <td>
                      <a href={w.url} target="_blank" rel="noopener noreferrer">
                        {w.slug}
                      </a>
                    </td>
                    <td>{w.display_name}</td>
                    <td>
                      {w.owner_handle ?? "(unknown)"}
                      <br />
                      <code className="small">{w.owner_did}</code>
                    </td>
                    <td>{w.created}</td>
                    <td>{w.last_accessed}</td>
                    <td>{w.page_count}</td>
                    <td>{mib(w.disk_usage_bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section className="card" aria-labelledby="card-journal">
        <h2 id="card-journal">Journal (last 50 lines)</h2>
        <pre className="journal" tabIndex={0}>
          {journal}
        </pre>
      </section>
    </>
  );
}
