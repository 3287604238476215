import { data, Form, Link } from "react-router";
import { AppErrorBoundary, DisplayNameField, pageTitle, FormError, McpHelp, SubmitButton, TokenDisplay } from "~/components/app";
import { forwardErrorHeaders, readForm, pageUser } from "~/server/guards.server";
import { defaultSlugFromHandle } from "~/server/wiki-rules.server";
import { canCreateWiki, createWiki, wikiLimitMessage, type FailureCode } from "~/server/wikis.server";
import type { Route } from "./+types/create";

export const meta: Route.MetaFunction = ({ error }) => pageTitle("Create Wiki", error);
export const headers = forwardErrorHeaders;
export const ErrorBoundary = AppErrorBoundary;

export async function loader(args: Route.LoaderArgs) {
  const { platform } = args.context;
  const user = await pageUser(args);
  const canCreate = await canCreateWiki(platform, user);
  return {
    canCreate,
    limitNotice: canCreate ? null : wikiLimitMessage(platform),
    defaultSlug: defaultSlugFromHandle(user.handle),
    domain: platform.config.domain,
  };
}

/** Which field a failure belongs to, so its message sits next to that field. */
const FIELD_OF: Partial<Record<FailureCode, "slug" | "display_name" | "purpose">> = {
  display_name_required: "display_name",
  display_name_too_long: "display_name",
  purpose_not_string: "purpose",
  invalid_slug: "slug",
  exists: "slug",
};

const text = (value: FormDataEntryValue | null) => (typeof value === "string" ? value : "");

// POST /app/create (rate limit `create` in the pipeline): one action; `intent` is ignored.
export async function action(args: Route.ActionArgs) {
  const user = await pageUser(args);
  const { platform, reqId } = args.context;
  const form = await readForm(args.request);
  const values = { slug: text(form.get("slug")), display_name: text(form.get("display_name")), purpose: text(form.get("purpose")) };
  const result = await createWiki(platform, user, values, { reqId });
  if (!result.ok) {
    return data(
      { created: null, error: result.error.ui, field: FIELD_OF[result.code] ?? null, values },
      { status: result.status },
    );
  }
  // D9: the token is shown in this response only (status 200, no redirect, never in a cookie).
  const { wiki, token } = result;
  return {
    created: { slug: wiki.slug, display_name: wiki.display_name, url: wiki.url, host: `${wiki.slug}.${platform.config.domain}`, token },
    error: null,
    field: null,
    values,
  };
}

export default function CreateWiki({ loaderData, actionData }: Route.ComponentProps) {
  if (actionData?.created) return <WikiCreated {...actionData.created} />;
  const { canCreate, limitNotice, defaultSlug, domain } = loaderData;
  const error = actionData?.error ?? undefined;
  const field = actionData?.field ?? null;
  const values = actionData?.values;
  return (
    <>
      <h1>Create a new wiki</h1>
      {!canCreate && !actionData ? (
        <section className="card">
          <p>{limitNotice}</p>
          <p>
            <Link to="/app/">Back to the dashboard</Link>
          </p>
        </section>
      ) : (
        <section className="card">
          <FormError message={error} />
          <Form method="post" action="/app/create">
            <div className="field">
              <label htmlFor="slug">Wiki slug</label>
              <div className="input-row">
                <input
                  id="slug"
                  name="slug"
                  type="text"
                  required
                  pattern="[a-z0-9][a-z0-9\-]{1,28}[a-z0-9]"
                  title="3-30 lowercase letters, digits, and hyphens. Cannot start or end with a hyphen."
                  defaultValue={values?.slug ?? defaultSlug}
                  autoComplete="off"
                  spellCheck={false}
                  aria-describedby="slug-hint"
                  aria-invalid={field === "slug" || undefined}
                  aria-errormessage={field === "slug" ? "slug-error" : undefined}
                />
                <span className="input-suffix">.{domain}</span>
              </div>
              <p className="hint" id="slug-hint">
                3–30 characters. Lowercase letters, digits, and hyphens.
              </p>
              {field === "slug" ? (
                <p className="field-error" id="slug-error">
                  {error}
                </p>
              ) : null}
            </div>
            <DisplayNameField
              defaultValue={values?.display_name ?? ""}
              placeholder="My Wiki"
              error={field === "display_name" ? error : undefined}
              errorId="display_name-error"
            />
            <div className="field">
              <label htmlFor="purpose">Site description (optional)</label>
              <input
                id="purpose"
                name="purpose"
                type="text"
                maxLength={200}
                placeholder="A wiki about..."
                defaultValue={values?.purpose ?? ""}
                aria-describedby="purpose-hint"
              />
              <p className="hint" id="purpose-hint">
                Shown in the browser tab, search results, and wiki navbar.
              </p>
            </div>
            <p className="card-actions">
              <SubmitButton pendingText="Creating wiki…">Create wiki</SubmitButton>
              <Link className="button button-secondary" to="/app/">
                Cancel
              </Link>
            </p>
          </Form>
        </section>
      )}
    </>
  );
}

/** The "Wiki created" page (§3.2, D9): the URL stays /app/create; the token is shown this once. */
function WikiCreated({ slug, display_name, url, host, token }: { slug: string; display_name: string; url: string; host: string; token: string }) {
  return (
    <>
      <h1>{display_name}</h1>
      <p className="alert alert-success" role="status">
        Wiki created! Your MCP bearer token is below.
      </p>
      <section className="card">
        <p className="alert alert-warning">
          <strong>Your MCP bearer token</strong> — copy it now, it will not be shown again.
        </p>
        <TokenDisplay slug={slug} token={token} />
      </section>
      <McpHelp slug={slug} wikiUrl={url} host={host} />
      <p className="card-actions">
        <Link className="button" to={`/app/wiki/${encodeURIComponent(slug)}`}>
          Go to wiki settings
        </Link>
        <a className="button button-secondary" href={url} target="_blank" rel="noopener noreferrer">
          Open wiki
        </a>
      </p>
    </>
  );
}
