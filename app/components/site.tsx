import type { ReactNode } from "react";
import { isRouteErrorResponse, Link } from "react-router";

export function Wordmark() {
  return (
    <Link className="brand" to="/">
      <img src="/static/robot.wtf.svg" alt="" width={28} height={28} />
      <span>robot.wtf</span>
    </Link>
  );
}

/** Header of public pages (landing, login, consent, errors). */
export function SiteHeader({ children }: { children?: ReactNode }) {
  return (
    <header className="site-header">
      <Wordmark />
      <nav className="site-nav">{children}</nav>
    </header>
  );
}

export function SiteFooter() {
  return (
    <footer className="site-footer">
      <p>
        robot.wtf is a volunteer project for the Bluesky community, built on{" "}
        <a href="https://otterwiki.com/">An Otter Wiki</a>. <a href="https://github.com/">Source</a>. Robot icon by the
        robot.wtf contributors.
      </p>
    </footer>
  );
}

export type FlashMessage = { category: "success" | "danger" | "warning" | "info"; message: string };

export function Flashes({ messages }: { messages?: FlashMessage[] }) {
  if (!messages?.length) return null;
  return (
    <div className="flashes">
      {messages.map((m, i) => (
        <div key={i} className={`alert alert-${m.category}`} role={m.category === "danger" ? "alert" : "status"}>
          {m.message}
        </div>
      ))}
    </div>
  );
}

export interface RouteErrorInfo {
  status: number;
  title: string;
  message: string;
  detail?: string;
}

/** What every error boundary shows for a route error (D15): status, title, message, no internals. */
export function routeErrorInfo(error: unknown): RouteErrorInfo {
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
  if (status === 429) {
    // The same page the request pipeline renders for its own limits (security.md §5).
    return { status, title: "Too Many Requests", message, detail: "Please slow down and try again later." };
  }
  return { status, title: status === 404 ? "Page not found" : `Error ${status}`, message };
}

/** The card of an error page: title, status, message and a way back. */
export function ErrorCard({ info, back }: { info: RouteErrorInfo; back: { href: string; label: string } }) {
  return (
    <div className="card error-card" role="alert">
      <title>{`${info.title} – robot.wtf`}</title>
      <h1>{info.title}</h1>
      <p className="status">{info.status}</p>
      <p>
        <code>{info.message}</code>
      </p>
      {info.detail ? <p>{info.detail}</p> : null}
      <p>
        <a className="button" href={back.href}>
          {back.label}
        </a>
      </p>
    </div>
  );
}
