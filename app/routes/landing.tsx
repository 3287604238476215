import { data } from "react-router";
import { Flashes, SiteFooter, SiteHeader } from "~/components/site";
import { consumeFlash } from "~/server/flash.server";
import { identify } from "~/server/identity.server";
import { errorDetails } from "~/server/log.server";
import type { Route } from "./+types/landing";

export const meta: Route.MetaFunction = () => [
  { title: "robot.wtf — Memory for agents in a wiki for humans" },
  {
    name: "description",
    content:
      "Free, git-backed wiki hosting with native MCP and semantic search. Your agents and you share the same pages. Sign in with Bluesky.",
  },
];

// The landing page never needs the database to render: on a DB error it shows the signed-out header.
export async function loader({ request, context }: Route.LoaderArgs) {
  const { platform } = context;
  let signedIn = false;
  try {
    signedIn = (await identify(platform, request)).kind === "user";
  } catch (err) {
    platform.log.warn({ reqId: context.reqId, err: errorDetails(err) }, "landing: identity lookup failed");
  }
  const flash = consumeFlash(platform, request);
  return data(
    { signedIn, flashes: flash.messages, domain: platform.config.domain },
    { headers: flash.setCookie ? { "Set-Cookie": flash.setCookie } : {} },
  );
}

export default function Landing({ loaderData }: Route.ComponentProps) {
  const { signedIn, flashes, domain } = loaderData;
  const start = signedIn ? "/app/" : "/auth/login";
  return (
    <>
      <SiteHeader>
        {signedIn ? (
          <a className="button" href="/app/">
            Dashboard
          </a>
        ) : (
          <a className="button" href="/auth/login">
            Sign in with Bluesky
          </a>
        )}
      </SiteHeader>
      <main className="container">
        <Flashes messages={flashes} />
        <section className="hero">
          <img className="hero-icon" src="/static/robot.wtf.svg" alt="" width={96} height={96} />
          <h1>Memory for agents in a wiki for humans.</h1>
          <p className="lead">
            A lightweight, git-backed wiki with a native MCP endpoint and semantic search. Your agents and your browser
            read and write the same pages, with the same history.
          </p>
          <p>
            <a className="button button-large" href={start}>
              Get started — it's free
            </a>
          </p>
        </section>

        <section className="card">
          <h2>What is this?</h2>
          <ul>
            <li>A wiki that works as shared, persistent memory for your AI agents — and stays readable for you.</li>
            <li>
              Each wiki is a git repository of Markdown pages with a web editor and an MCP endpoint: full create, read,
              update and delete, partial reads, incremental writes, keyword and semantic search.
            </li>
            <li>Built on An Otter Wiki. robot.wtf is a volunteer project for the Bluesky community.</li>
          </ul>
        </section>

        <section className="card">
          <h2>How it works</h2>
          <ol>
            <li>Sign in with your Bluesky account.</li>
            <li>Create your wiki and pick its address.</li>
            <li>Copy the MCP URL from the wiki's settings and paste it into your agent.</li>
          </ol>
          <p>For Claude Code, one command connects your wiki:</p>
          <pre>
            <code>{`claude mcp add my-wiki https://yourname.${domain}/mcp --transport http --header "Authorization: Bearer YOUR_TOKEN"`}</code>
          </pre>
          <p>For Claude.ai, add the URL as a custom connector; you sign in with Bluesky and approve access — OAuth handles the rest.</p>
        </section>

        <section className="card faq">
          <h2>Questions</h2>
          <details>
            <summary>Is it free?</summary>
            <p>Yes. There are no paid tiers, no ads and no data harvesting.</p>
          </details>
          <details>
            <summary>Which agents work with it?</summary>
            <p>Any MCP client that speaks Streamable HTTP: Claude Code, Claude.ai, and many others.</p>
          </details>
          <details>
            <summary>Can I git clone my wiki?</summary>
            <p>Yes. Turn on git access in the wiki's settings, then clone it with your token.</p>
          </details>
          <details>
            <summary>Who can see my wiki?</summary>
            <p>
              Wikis are private by default: only you and the people you approve. Agents get in with OAuth or a bearer
              token, and your data is never used for anything else.
            </p>
          </details>
          <details>
            <summary>What is MCP?</summary>
            <p>
              The Model Context Protocol is an open standard that lets AI assistants use tools and data sources. Your
              wiki's MCP endpoint gives an agent tools to read, search and edit pages.
            </p>
          </details>
          <details>
            <summary>Why Bluesky?</summary>
            <p>Bluesky's AT Protocol gives everyone a portable, decentralised identity, so there is no new password to keep.</p>
          </details>
        </section>
      </main>
      <SiteFooter />
    </>
  );
}
