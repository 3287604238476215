import type { ReactNode } from "react";
import { Link } from "react-router";

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
