import { Form, redirect } from "react-router";
import { SiteHeader } from "~/components/site";
import { readPlatformTokens } from "~/server/cookies.server";
import { logout } from "~/server/login.server";
import type { Route } from "./+types/logout";

export const meta: Route.MetaFunction = () => [{ title: "Sign out – robot.wtf" }];

async function doLogout({ request, context }: Route.LoaderArgs | Route.ActionArgs) {
  const { platform } = context;
  const clears = await logout(platform, readPlatformTokens(request), context.reqId);
  const headers = new Headers();
  for (const c of clears) headers.append("Set-Cookie", c);
  return redirect(`${platform.config.origin}/`, { headers });
}

// A cross-site GET only asks (auth.md §6): another site must not be able to sign people out.
export async function loader(args: Route.LoaderArgs) {
  if (args.request.headers.get("sec-fetch-site") === "cross-site") return { confirm: true };
  return doLogout(args);
}

// POST passed the Origin check in the request pipeline (D7).
export const action = (args: Route.ActionArgs) => doLogout(args);

export default function Logout() {
  return (
    <>
      <SiteHeader />
      <main className="container narrow">
        <div className="card">
          <h1>Sign out of robot.wtf?</h1>
          <Form method="post" action="/auth/logout" reloadDocument>
            <button type="submit">Sign out</button>
          </Form>
        </div>
      </main>
    </>
  );
}
