import { useEffect } from "react";
import { data, Form, redirect, useNavigation, useRouteError, type ShouldRevalidateFunction } from "react-router";
import { AuthErrorPage, AuthPage, readAuthError } from "~/components/auth-error";
import { authError } from "~/server/auth-errors.server";
import {
  decideConsent,
  startConsent,
  type ConsentFailure,
  type ConsentView,
  type DeniedView,
  type NotAllowedView,
} from "~/server/consent.server";
import { errorDetails } from "~/server/log.server";
import type { Route } from "./+types/consent";

// MCP consent (auth.md §8). The form posts to the bare path; every parameter travels in the
// signed consent_token.

/**
 * After a no-JS POST, React Router re-runs this loader for the POST's URL (the bare path, so it
 * would fail check 1); the action's outcome is the page then. Keyed by the per-request context.
 */
const answeredByAction = new WeakSet<object>();

function refuse(context: Route.LoaderArgs["context"], result: ConsentFailure): never {
  if (result.did) context.state.did = result.did;
  context.platform.log.warn({ reqId: context.reqId, status: result.status, reason: result.error }, "consent refused");
  throw authError(result.status, result.error, { returnTo: result.returnTo, view: result.notAllowed });
}

export async function loader({ request, context }: Route.LoaderArgs) {
  if (answeredByAction.has(context)) return null;
  const result = await startConsent(context.platform, request, context.reqId);
  if (!result.ok && result.login) throw redirect(result.login);
  if (!result.ok) refuse(context, result);
  context.state.did = result.did;
  return { view: result.view };
}

export async function action({ request, context }: Route.ActionArgs) {
  answeredByAction.add(context);
  let form: FormData | undefined;
  try {
    form = await request.formData();
  } catch (err) {
    context.platform.log.warn({ reqId: context.reqId, err: errorDetails(err) }, "consent: unreadable form body");
  }
  const field = (name: string) => {
    const value = form?.get(name);
    return typeof value === "string" ? value : undefined;
  };
  const result = await decideConsent(
    context.platform,
    request,
    { consentToken: field("consent_token"), action: field("action") },
    context.reqId,
  );
  if (!result.ok) refuse(context, result);
  context.state.did = result.did;
  if (result.location !== undefined) {
    // Not redirect(): React Router checks every 3xx target with new URL(), which refuses the
    // `{slug}.{IP}` wiki hosts of development. The headers export passes Location on, and
    // entry.server.tsx answers a document POST with the 302; a JS submission gets the data
    // and <Continue> navigates.
    return data(
      { continueTo: { href: result.location, nextHost: result.nextHost, finalTarget: result.finalTarget, decision: result.decision } },
      { headers: { Location: result.location } },
    );
  }
  return { denied: result.denied };
}

export const headers: Route.HeadersFunction = ({ actionHeaders }) => {
  const location = actionHeaders.get("Location");
  return location ? { Location: location } : new Headers();
};

// With JS, the POST is a navigation to the bare path: keep its outcome instead of re-loading.
export const shouldRevalidate: ShouldRevalidateFunction = ({ formMethod, defaultShouldRevalidate }) =>
  formMethod?.toUpperCase() === "POST" ? false : defaultShouldRevalidate;

export default function Consent({ loaderData, actionData }: Route.ComponentProps) {
  if (actionData && "continueTo" in actionData) return <Continue {...actionData.continueTo} />;
  if (actionData && "denied" in actionData) return <AccessDenied denied={actionData.denied} />;
  if (!loaderData) return null;
  return <ConsentPage view={loaderData.view} />;
}

function ClientLabel({ clientId, clientName }: { clientId: string; clientName: string | null }) {
  if (!clientName) return <strong className="client-id">{clientId}</strong>;
  return (
    <>
      <strong>{clientName}</strong> <span className="muted">(a name the app gave itself)</span> (client ID{" "}
      <code className="client-id">{clientId}</code>)
    </>
  );
}

function ConsentPage({ view }: { view: ConsentView }) {
  const navigation = useNavigation();
  const busy = navigation.state !== "idle";
  const pending = navigation.formData?.get("action");
  return (
    <AuthPage title="Authorize Access" className="consent-card">
      <p className="consent-request">
        <ClientLabel clientId={view.clientId} clientName={view.clientName} /> is requesting access to{" "}
        <strong>{view.wikiHost}</strong>
      </p>
      <p className="wiki-name">{view.wikiName}</p>

      <div className="redirect-target">
        After you approve, you will be sent to <strong>{view.redirectTarget}</strong>
      </div>

      {view.scopes.length > 0 && (
        <div className="scopes">
          <p>Requested permissions:</p>
          <ul>
            {view.scopes.map((scope) => (
              <li key={scope}>
                <code>{scope}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
      <p>If you approve, the app can read and edit the pages of this wiki as an editor.</p>
      <p className="alert alert-warning">Only approve if you started this connection yourself.</p>

      <Form method="post" action="/auth/oauth/consent" className="consent-form">
        <input type="hidden" name="consent_token" value={view.consentToken} />
        <div className="button-row">
          <button type="submit" name="action" value="approve" disabled={busy}>
            {pending === "approve" ? "Approving…" : "Approve"}
          </button>
          <button type="submit" name="action" value="deny" className="secondary" disabled={busy}>
            {pending === "deny" ? "Denying…" : "Deny"}
          </button>
        </div>
      </Form>

      <p className="signed-in">
        Signed in as <strong>@{view.handle}</strong>. <a href="/auth/logout">Not you? Sign out</a>
      </p>
    </AuthPage>
  );
}

/**
 * Approve or a registered Deny after a JS submission: go on to the target (a link as fallback).
 * It names the host the browser is really sent to now: for Approve the wiki host, which then
 * hands the browser on to the app's redirect target.
 */
function Continue({ href, nextHost, finalTarget, decision }: { href: string; nextHost: string; finalTarget: string; decision: string }) {
  useEffect(() => window.location.assign(href), [href]);
  return (
    <AuthPage title={decision === "approve" ? "Approved" : "Access denied"}>
      <p>
        Continuing to <strong>{nextHost}</strong>
        {finalTarget !== nextHost ? (
          <>
            , which then sends you on to <strong>{finalTarget}</strong>
          </>
        ) : null}
        … <a href={href}>Continue</a>
      </p>
    </AuthPage>
  );
}

function AccessDenied({ denied }: { denied: DeniedView }) {
  return (
    <AuthPage title="Access denied">
      <p>
        You denied <ClientLabel clientId={denied.clientId} clientName={denied.clientName} /> access to{" "}
        <strong>{denied.wikiHost}</strong>. You can close this window.
      </p>
      <p className="muted">
        Error code: <code>access_denied</code>
      </p>
    </AuthPage>
  );
}

function NotAllowed({ view }: { view: NotAllowedView }) {
  return (
    <AuthPage title="You can't connect apps to this wiki">
      <p>
        Only the owner of <strong>{view.wikiHost}</strong> or a user the owner has approved on that wiki can let apps
        access it. You are signed in as <strong>@{view.handle}</strong>.
      </p>
      <p>
        Ask the wiki's owner to approve you in the wiki's user settings, or{" "}
        <a href="/auth/logout">sign in with another account</a>.
      </p>
    </AuthPage>
  );
}

export function ErrorBoundary() {
  const { status, body } = readAuthError(useRouteError());
  if (body?.view?.kind === "not_allowed") return <NotAllowed view={body.view as unknown as NotAllowedView} />;
  return <AuthErrorPage status={status} message={body?.authError} returnTo={body?.returnTo} />;
}
