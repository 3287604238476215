import type { ReactNode } from "react";
import { isRouteErrorResponse, useRouteError } from "react-router";
import { SiteHeader } from "./site";

/** What `authError()` (app/server/auth-errors.server.ts) throws; rendered here, or sent as JSON. */
export interface AuthErrorBody {
  /** The message: shown in <code>, and the `error` member of the JSON variant. */
  authError: string;
  /** A D5-valid return_to for the "Start Over" link. */
  returnTo?: string;
  /** Route-specific page details for a route's own ErrorBoundary (e.g. consent's "not allowed"). */
  view?: { kind: string } & Record<string, unknown>;
}

export function isAuthErrorBody(value: unknown): value is AuthErrorBody {
  return typeof value === "object" && value !== null && typeof (value as AuthErrorBody).authError === "string";
}

/** "Start Over": /auth/login, with return_to (always percent-encoded, D5) when one is known. */
export function startOverHref(returnTo?: string): string {
  return returnTo ? "/auth/login?return_to=" + encodeURIComponent(returnTo) : "/auth/login";
}

/** A page of the /auth/* surface: document title, site header, one narrow card with a heading. */
export function AuthPage({ title, className, children }: { title: string; className?: string; children: ReactNode }) {
  return (
    <>
      <title>{`${title} – robot.wtf`}</title>
      <SiteHeader />
      <main className="container narrow">
        <div className={className ? `card ${className}` : "card"}>
          <h1>{title}</h1>
          {children}
        </div>
      </main>
    </>
  );
}

/** The /auth/* error page (auth.md §1): "Error {status}", the message in <code>, "Start Over". */
export function AuthErrorPage({ status, message, returnTo }: { status: number; message?: string; returnTo?: string }) {
  return (
    <AuthPage title={`Error ${status}`} className="error-card">
      <p className="status">{status}</p>
      <p>
        <code>{message || "Something went wrong."}</code>
      </p>
      <p>
        <a className="button" href={startOverHref(returnTo)}>
          Start Over
        </a>
      </p>
    </AuthPage>
  );
}

/** Status and body of the error a route threw; anything but `throw authError(…)` has no body. */
export function readAuthError(error: unknown): { status: number; body?: AuthErrorBody } {
  if (isRouteErrorResponse(error)) return { status: error.status, body: isAuthErrorBody(error.data) ? error.data : undefined };
  return { status: 500 };
}

/** ErrorBoundary for /auth/* page routes: `export { AuthErrorBoundary as ErrorBoundary }`. */
export function AuthErrorBoundary() {
  const { status, body } = readAuthError(useRouteError());
  return <AuthErrorPage status={status} message={body?.authError} returnTo={body?.returnTo} />;
}
