import { isRouteErrorResponse, useRouteError } from "react-router";
import { SiteHeader } from "./site";

/** Data thrown with an /auth/* error: the message and, when known, where to return after login. */
export type AuthErrorData = { message: string; returnTo?: string };

/** The /auth/* error page (auth.md §1): "Error {status}", the message in <code>, and "Start Over". */
export function AuthErrorPage({ status, message, returnTo }: { status: number; message?: string; returnTo?: string }) {
  const startOver = "/auth/login" + (returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : "");
  return (
    <>
      <title>{`Error ${status} – robot.wtf`}</title>
      <SiteHeader />
      <main className="container narrow">
        <div className="card error-card">
          <h1>{`Error ${status}`}</h1>
          <p>
            <code>{message || "Something went wrong."}</code>
          </p>
          <p>
            <a className="button" href={startOver}>
              Start Over
            </a>
          </p>
        </div>
      </main>
    </>
  );
}

/** Error boundary for /auth/* route modules. */
export function AuthErrorBoundary() {
  const error = useRouteError();
  if (isRouteErrorResponse(error)) {
    const d = error.data as Partial<AuthErrorData> | string | undefined;
    const message = typeof d === "string" ? d : d?.message;
    return <AuthErrorPage status={error.status} message={message} returnTo={typeof d === "object" ? d?.returnTo : undefined} />;
  }
  return <AuthErrorPage status={500} />;
}
