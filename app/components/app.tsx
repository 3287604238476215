// Presentational pieces of the `/app` pages: the one-time token display with its copy button,
// the MCP set-up help, usage figures and submit buttons with a pending state.
import { useState, type ReactNode } from "react";
import { useNavigation, useRouteError } from "react-router";
import { ErrorCard, routeErrorInfo } from "./site";

/** A submit button that shows a pending state while its own form is being submitted (with JS). */
export function SubmitButton({
  children,
  pendingText,
  intent,
  className,
}: {
  children: ReactNode;
  pendingText: string;
  /** The hidden `intent` of the form, so only that form's button turns pending. */
  intent?: string;
  className?: string;
}) {
  const navigation = useNavigation();
  const pending =
    navigation.state === "submitting" && (intent === undefined || navigation.formData?.get("intent") === intent);
  return (
    <button type="submit" className={className} disabled={pending} aria-busy={pending || undefined}>
      {pending ? pendingText : children}
    </button>
  );
}

/** The plaintext MCP token, shown once (D9), with a copy button (clipboard API; no inline script). */
export function TokenDisplay({ slug, token }: { slug: string; token: string }) {
  const [status, setStatus] = useState("");
  async function copy() {
    try {
      await navigator.clipboard.writeText(token);
      setStatus("Copied to the clipboard.");
    } catch {
      setStatus("Copying failed: select the token and copy it by hand.");
    }
  }
  return (
    <div className="token-box">
      <div className="token-row">
        <code id={`mcp-token-${slug}`} className="token-display">
          {token}
        </code>
        <button type="button" className="secondary" onClick={copy}>
          Copy token
        </button>
      </div>
      <p className="hint" role="status" aria-live="polite">
        {status}
      </p>
    </div>
  );
}

/** Card 5 of the settings page (management.md §3.3): endpoint, Claude Code, Claude.ai, git. */
export function McpHelp({
  slug,
  wikiUrl,
  host,
  gitControls,
  children,
}: {
  slug: string;
  wikiUrl: string;
  /** `{slug}.{D}` */
  host: string;
  /** The git state and its toggle (settings page only). */
  gitControls?: ReactNode;
  /** After the git section: the regenerate form on the settings page. */
  children?: ReactNode;
}) {
  const endpoint = `${wikiUrl}/mcp`;
  return (
    <section className="card">
      <h2 id={`mcp-${slug}`}>MCP</h2>
      <p>
        MCP endpoint: <code>{endpoint}</code>
      </p>
      <h3>Claude Code</h3>
      <pre>
        <code>{`claude mcp add ${slug} ${endpoint} --transport http --header "Authorization: Bearer TOKEN"`}</code>
      </pre>
      <p>
        Replace <code>TOKEN</code> with your bearer token.
      </p>
      <h3>Claude.ai</h3>
      <p>
        Add a custom connector with the URL <code>{endpoint}</code>. You will sign in with Bluesky and approve access —
        no bearer token needed.
      </p>
      <h3>Git</h3>
      {gitControls}
      <pre>
        <code>{`git clone https://x-token:TOKEN@${host}/.git ${slug}`}</code>
      </pre>
      <p className="hint">Works only while git access is on.</p>
      {children}
    </section>
  );
}

/** "N of 500 pages" and "X.X MiB of 50 MiB", with the over-quota note (§1.4). */
export function UsageFigures({ usage }: { usage: { pages: string; disk: string; note: string | null } }) {
  return (
    <>
      <dl className="usage">
        <dt>Pages</dt>
        <dd>{usage.pages}</dd>
        <dt>Disk</dt>
        <dd>{usage.disk}</dd>
      </dl>
      {usage.note ? (
        <p className="alert alert-warning" role="status">
          {usage.note}
        </p>
      ) : null}
    </>
  );
}

/** A form-level message: shown as an alert (management.md §2: "at the form and as an alert"). */
export function FormError({ message, id }: { message?: string; id?: string }) {
  if (!message) return null;
  return (
    <p className="alert alert-danger" role="alert" id={id}>
      {message}
    </p>
  );
}

/**
 * The error boundary of the /app pages: the styled error card inside the app shell (D15),
 * e.g. 403 "Admins only.", 405, or 429 from the per-intent rate limits.
 */
export function AppErrorBoundary() {
  return <ErrorCard info={routeErrorInfo(useRouteError())} back={{ href: "/app/", label: "Back to the dashboard" }} />;
}

/** The display-name field of the create and settings forms (§1.2: required, at most 100 characters). */
export function DisplayNameField({
  defaultValue,
  error,
  errorId,
  placeholder,
}: {
  defaultValue: string;
  /** The field's own message, shown under it. */
  error?: string;
  errorId: string;
  placeholder?: string;
}) {
  return (
    <div className="field">
      <label htmlFor="display_name">Display name</label>
      <input
        id="display_name"
        name="display_name"
        type="text"
        required
        maxLength={100}
        placeholder={placeholder}
        defaultValue={defaultValue}
        aria-invalid={error ? true : undefined}
        aria-errormessage={error ? errorId : undefined}
      />
      {error ? (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** A two-column table of labelled values (profile, disk usage, counts). */
export function RowTable({ rows }: { rows: Array<[string, ReactNode]> }) {
  return (
    <table>
      <tbody>
        {rows.map(([label, value]) => (
          <tr key={label}>
            <th scope="row">{label}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** `<title>` of an /app page: `{page} – robot.wtf`; none while the error boundary sets its own. */
export function pageTitle(page: string, error: unknown): Array<{ title: string }> {
  return error ? [] : [{ title: `${page} – robot.wtf` }];
}
