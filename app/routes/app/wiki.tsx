import { data, Form, type AppLoadContext } from "react-router";
import { AppErrorBoundary, DisplayNameField, pageTitle, FormError, McpHelp, SubmitButton, TokenDisplay, UsageFigures } from "~/components/app";
import { forwardErrorHeaders, readForm, pageUser, redirectWithFlash } from "~/server/guards.server";
import { isIntent, type Intent } from "~/server/rate-limit.server";
import { ACCESS_LEVELS } from "~/server/wiki-rules.server";
import {
  deleteWiki,
  getOwnedWiki,
  regenerateToken,
  renameWiki,
  setAccessLevels,
  setGitAccess,
  wikiSettings,
  type Failure,
} from "~/server/wikis.server";
import type { Route } from "./+types/wiki";

export const meta: Route.MetaFunction = ({ data, error }) => pageTitle(`${data?.wiki.display_name ?? "Wiki"} — Settings`, error);
export const headers = forwardErrorHeaders;
export const ErrorBoundary = AppErrorBoundary;

/** Not found / not the owner: flash and back to the dashboard (management.md §2), GET and POST alike. */
function toDashboard(context: AppLoadContext, failure: Failure): Response {
  return redirectWithFlash(context, "/app/", "danger", failure.error.ui);
}

export async function loader(args: Route.LoaderArgs) {
  const { platform } = args.context;
  const user = await pageUser(args);
  const owned = await getOwnedWiki(platform, user, args.params.slug);
  if (!owned.ok) throw toDashboard(args.context, owned);
  const { wiki, access, usage } = wikiSettings(platform, owned.wiki);
  return {
    wiki,
    host: `${wiki.slug}.${platform.config.domain}`,
    access,
    usage,
    levels: ACCESS_LEVELS.map((l) => ({ value: l.value, label: l.label })),
  };
}

/** The Access card's selects: form field, wiki.db preference, label. */
const ACCESS_FIELDS = [
  ["read_access", "READ_ACCESS", "Who can read"],
  ["write_access", "WRITE_ACCESS", "Who can edit"],
  ["attachment_access", "ATTACHMENT_ACCESS", "Who can upload attachments"],
] as const;

const field = (form: FormData, name: string): string => {
  const value = form.get(name);
  return typeof value === "string" ? value : "";
};

/** A failed intent re-renders the page in place with its message and status. */
function inPlace(intent: Intent | null, error: string, status: number, values: Record<string, string> = {}) {
  return data({ intent, error, token: null as string | null, values }, { status });
}

export async function action(args: Route.ActionArgs) {
  const { request, params, context } = args;
  const { platform, reqId } = context;

  // The pipeline has charged this POST to its intent's rate limit (security.md §5).
  const user = await pageUser(args);
  const form = await readForm(request);
  const intent = form.get("intent");
  if (!isIntent(intent)) return inPlace(null, "Unknown action.", 400);

  const slug = params.slug;
  const here = `/app/wiki/${encodeURIComponent(slug)}`;
  const ownerFailure = (r: Failure) => r.code === "not_found" || r.code === "not_owner";
  const ctx = { reqId };

  switch (intent) {
    case "rename": {
      const displayName = field(form, "display_name");
      const r = await renameWiki(platform, user, slug, displayName, ctx);
      if (!r.ok) return ownerFailure(r) ? toDashboard(context, r) : inPlace(intent, r.error.ui, r.status, { display_name: displayName });
      return redirectWithFlash(context, here, "success", "Settings updated.");
    }
    case "access": {
      const r = await setAccessLevels(
        platform,
        user,
        slug,
        { read_access: form.get("read_access"), write_access: form.get("write_access"), attachment_access: form.get("attachment_access") },
        ctx,
      );
      const entered = Object.fromEntries(ACCESS_FIELDS.map(([name]) => [name, field(form, name)]));
      if (!r.ok) return ownerFailure(r) ? toDashboard(context, r) : inPlace(intent, r.error.ui, r.status, entered);
      return redirectWithFlash(context, here, "success", "Access settings updated.");
    }
    case "git": {
      // Exactly "true" or "false"; anything else reaches the domain rule as is and is refused.
      const raw = form.get("enabled");
      const enabled = raw === "true" ? true : raw === "false" ? false : raw;
      const r = await setGitAccess(platform, user, slug, enabled, ctx);
      if (!r.ok) return ownerFailure(r) ? toDashboard(context, r) : inPlace(intent, r.error.ui, r.status);
      return redirectWithFlash(context, here, "success", r.enabled ? "Git access enabled." : "Git access disabled.");
    }
    case "regenerate": {
      const r = await regenerateToken(platform, user, slug, ctx);
      if (!r.ok) return ownerFailure(r) ? toDashboard(context, r) : inPlace(intent, r.error.ui, r.status);
      // D9: rendered directly with 200, never redirected, never in a cookie.
      return data({ intent, error: null as string | null, token: r.token as string | null, values: {} as Record<string, string> });
    }
    case "delete": {
      const r = await deleteWiki(platform, user, slug, { confirmation: field(form, "confirm_slug"), reqId });
      if (!r.ok) return ownerFailure(r) ? toDashboard(context, r) : inPlace(intent, r.error.ui, r.status);
      return redirectWithFlash(context, "/app/", "success", `Wiki '${slug}' has been deleted.`);
    }
  }
}

export default function WikiSettings({ loaderData, actionData }: Route.ComponentProps) {
  const { wiki, host, access, usage, levels } = loaderData;
  const failed = actionData?.error ? actionData : null;
  const errorFor = (intent: string) => (failed && failed.intent === intent ? (failed.error ?? undefined) : undefined);
  const token = actionData?.token ?? null;
  // After a refused `access` post the selects keep what was entered (management.md §2); a value
  // that is no option at all cannot be shown, so that select shows the stored level.
  const shownLevel = (name: string, stored: string) => {
    const entered = failed?.intent === "access" ? failed.values[name] : undefined;
    return entered && levels.some((l) => l.value === entered) ? entered : stored;
  };
  const adminUrl = `${wiki.url}/-/admin`;
  const gitOn = wiki.git_access_enabled;
  return (
    <>
      <header className="page-header">
        <h1>{wiki.display_name}</h1>
        <p>
          <a className="muted" href={wiki.url} target="_blank" rel="noopener noreferrer">
            {host}
          </a>
        </p>
        <p className="card-actions">
          <a className="button" href={wiki.url}>
            Open wiki
          </a>
          <a className="button button-secondary" href={adminUrl} target="_blank" rel="noopener noreferrer">
            Manage users &amp; settings
          </a>
        </p>
      </header>

      {failed && failed.intent === null ? <FormError message={failed.error ?? undefined} /> : null}

      {token ? (
        <section className="card">
          <p className="alert alert-warning" role="status">
            Token regenerated. Copy it now -- it will not be shown again.
          </p>
          <TokenDisplay slug={wiki.slug} token={token} />
        </section>
      ) : null}

      <section className="card">
        <h2 id="card-display-name">Display name</h2>
        <FormError message={errorFor("rename")} />
        <Form method="post">
          <input type="hidden" name="intent" value="rename" />
          <DisplayNameField
            defaultValue={failed?.intent === "rename" ? (failed.values.display_name ?? "") : wiki.display_name}
            error={errorFor("rename")}
            errorId="rename-error"
          />
          <SubmitButton intent="rename" pendingText="Saving…">
            Save
          </SubmitButton>
        </Form>
      </section>

      <section className="card">
        <h2 id="card-access">Access</h2>
        <p>
          The owner and wiki admins always have full access. MCP tokens are not restricted by these settings. Users are
          approved under “Manage users &amp; settings”.
        </p>
        <FormError message={errorFor("access")} />
        <Form method="post">
          <input type="hidden" name="intent" value="access" />
          {ACCESS_FIELDS.map(([name, pref, label]) => (
            <div className="field" key={name}>
              <label htmlFor={name}>{label}</label>
              <select id={name} name={name} defaultValue={shownLevel(name, access[pref])}>
                {levels.map((l) => (
                  <option key={l.value} value={l.value}>
                    {l.label}
                  </option>
                ))}
              </select>
            </div>
          ))}
          <SubmitButton intent="access" pendingText="Saving…">
            Save access settings
          </SubmitButton>
        </Form>
      </section>

      <section className="card">
        <h2 id="card-usage">Usage</h2>
        <UsageFigures usage={usage} />
      </section>

      <McpHelp
        slug={wiki.slug}
        wikiUrl={wiki.url}
        host={host}
        gitControls={
          <>
            <p>{gitOn ? "Git access is on." : "Git access is off."}</p>
            <FormError message={errorFor("git")} />
            <Form method="post">
              <input type="hidden" name="intent" value="git" />
              <input type="hidden" name="enabled" value={gitOn ? "false" : "true"} />
              <SubmitButton intent="git" pendingText="Saving…" className="secondary">
                {gitOn ? "Turn git access off" : "Turn git access on"}
              </SubmitButton>
            </Form>
          </>
        }
      >
        <h3>Token</h3>
        <FormError message={errorFor("regenerate")} />
        <Form
          method="post"
          onSubmit={(event) => {
            if (!window.confirm("This will disconnect existing MCP clients. Continue?")) event.preventDefault();
          }}
        >
          <input type="hidden" name="intent" value="regenerate" />
          <SubmitButton intent="regenerate" pendingText="Regenerating…" className="secondary">
            Regenerate token
          </SubmitButton>
        </Form>
      </McpHelp>

      <details className="card danger-zone" open={failed?.intent === "delete" || undefined}>
        <summary>Danger zone</summary>
        <p>Deleting removes all pages and history. This cannot be undone.</p>
        <FormError message={errorFor("delete")} id="delete-error" />
        <Form method="post">
          <input type="hidden" name="intent" value="delete" />
          <div className="field">
            <label htmlFor="confirm_slug">
              Type <strong>{wiki.slug}</strong> to confirm:
            </label>
            <input
              id="confirm_slug"
              name="confirm_slug"
              type="text"
              required
              pattern={escapePattern(wiki.slug)}
              autoComplete="off"
              spellCheck={false}
              aria-invalid={failed?.intent === "delete" || undefined}
              aria-errormessage={failed?.intent === "delete" ? "delete-error" : undefined}
            />
          </div>
          <SubmitButton intent="delete" pendingText="Deleting…" className="danger">
            {`Permanently delete ${wiki.slug}`}
          </SubmitButton>
        </Form>
      </details>
    </>
  );
}

/**
 * The slug as an HTML `pattern` (compiled with the `v` flag): syntax characters escaped. A
 * hyphen stays as is, since `\-` outside a class is an error in that mode.
 */
function escapePattern(slug: string): string {
  return slug.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}
