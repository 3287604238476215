import type { ReactNode } from "react";
import { isRouteErrorResponse, Links, Meta, Outlet, Scripts, ScrollRestoration, useRouteError } from "react-router";
import type { Route } from "./+types/root";
import { useNonce } from "./components/nonce";
import { SiteHeader } from "./components/site";

export const links: Route.LinksFunction = () => [
  { rel: "icon", href: "/static/favicon.svg", type: "image/svg+xml" },
  { rel: "stylesheet", href: "/static/style.css" },
];

export function Layout({ children }: { children: ReactNode }) {
  const nonce = useNonce();
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <Meta />
        <Links />
      </head>
      <body>
        {children}
        <ScrollRestoration nonce={nonce} />
        <Scripts nonce={nonce} />
      </body>
    </html>
  );
}

export default function App() {
  return <Outlet />;
}

/** The styled error page of every route without its own boundary (D15): status, message, a way back. */
export function ErrorBoundary() {
  const error = useRouteError();
  let status = 500;
  let message = "Something went wrong.";
  if (isRouteErrorResponse(error)) {
    status = error.status;
    message =
      typeof error.data === "string" && error.data
        ? error.data
        : typeof error.data?.message === "string"
          ? error.data.message
          : status === 404
            ? "This page does not exist."
            : error.statusText || message;
  }
  const title = status === 404 ? "Page not found" : `Error ${status}`;
  return (
    <>
      <title>{`${title} – robot.wtf`}</title>
      <SiteHeader />
      <main className="container narrow">
        <div className="card error-card">
          <h1>{title}</h1>
          <p className="status">{status}</p>
          <p>
            <code>{message}</code>
          </p>
          <p>
            <a className="button" href="/">
              Back to robot.wtf
            </a>
          </p>
        </div>
      </main>
    </>
  );
}
