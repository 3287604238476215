import type { ReactNode } from "react";
import { Links, Meta, Outlet, Scripts, ScrollRestoration, useRouteError } from "react-router";
import type { Route } from "./+types/root";
import { useNonce } from "./components/nonce";
import { ErrorCard, routeErrorInfo, SiteHeader } from "./components/site";

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
  const info = routeErrorInfo(useRouteError());
  return (
    <>
      <SiteHeader />
      <main className="container narrow">
        <ErrorCard info={info} back={{ href: "/", label: "Back to robot.wtf" }} />
      </main>
    </>
  );
}
