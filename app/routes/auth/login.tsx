import { data, Form, redirect, useNavigation } from "react-router";
import { Flashes, SiteHeader, type FlashMessage } from "~/components/site";
import { AuthErrorBoundary } from "~/components/auth-error";
import { clearPlatformCookie } from "~/server/cookies.server";
import { consumeFlash } from "~/server/flash.server";
import { identify } from "~/server/identity.server";
import { startLogin } from "~/server/login.server";
import { safeReturnTo } from "~/server/return-to.server";
import type { Route } from "./+types/login";

export const meta: Route.MetaFunction = () => [{ title: "Login – robot.wtf" }];

/** Pre-fill from an expired token: printable ASCII only, at most 253 characters (auth.md §3). */
const prefillOf = (handle: string) => handle.replace(/[^\x20-\x7e]/g, "").slice(0, 253);

export async function loader({ request, context }: Route.LoaderArgs) {
  const { platform } = context;
  const url = new URL(request.url);
  const returnTo = safeReturnTo(platform.config, url.searchParams.get("return_to"));
  const identity = await identify(platform, request);
  if (identity.kind === "user") {
    context.state.did = identity.user.did;
    throw redirect(returnTo ?? `${platform.config.origin}/app/`);
  }
  const headers = new Headers();
  if (identity.kind === "unknown_user") headers.append("Set-Cookie", clearPlatformCookie(platform.cookies));
  const flash = consumeFlash(platform, request);
  if (flash.setCookie) headers.append("Set-Cookie", flash.setCookie);
  const prefill = identity.kind === "expired" ? prefillOf(identity.claims.handle) : "";
  return data({ returnTo: returnTo ?? "", prefill, flashes: flash.messages }, { headers });
}

export async function action({ request, context }: Route.ActionArgs) {
  const { platform } = context;
  const form = await request.formData().catch(() => new FormData());
  const username = String(form.get("username") ?? "");
  // A query-string return_to takes precedence over the form field.
  const rawReturnTo = new URL(request.url).searchParams.get("return_to") ?? String(form.get("return_to") ?? "");
  const returnTo = safeReturnTo(platform.config, rawReturnTo);
  const result = await startLogin(platform, { username, returnTo, reqId: context.reqId });
  if (result.ok) return redirect(result.location, { headers: { "Set-Cookie": result.setCookie } });
  platform.log.warn({ reqId: context.reqId, status: result.status, message: result.message }, "login refused");
  const flashes: FlashMessage[] = [{ category: "danger", message: result.message }];
  return data({ returnTo: returnTo ?? "", prefill: username.slice(0, 2048), flashes }, { status: result.status });
}

export default function Login({ loaderData, actionData }: Route.ComponentProps) {
  const view = actionData ?? loaderData;
  const navigation = useNavigation();
  const busy = navigation.state !== "idle" && navigation.formAction?.startsWith("/auth/login");
  return (
    <>
      <SiteHeader>
        <a className="button" href="/auth/login">
          Sign in with Bluesky
        </a>
      </SiteHeader>
      <main className="container narrow">
        <Flashes messages={view.flashes} />
        <div className="card">
          <h1>Login with Bluesky</h1>
          <p>Enter your Bluesky handle to continue</p>
          <Form method="post" action="/auth/login" reloadDocument>
            {view.returnTo ? <input type="hidden" name="return_to" value={view.returnTo} /> : null}
            <div className="field">
              <label htmlFor="username">Bluesky handle</label>
              <div className="input-row">
                <input
                  type="text"
                  name="username"
                  id="username"
                  placeholder="alice.bsky.social"
                  required
                  autoComplete="username"
                  autoCapitalize="none"
                  spellCheck={false}
                  defaultValue={view.prefill}
                />
                <button type="submit" disabled={busy}>
                  {busy ? "Logging in…" : "Login"}
                </button>
              </div>
              <p className="hint">Your handle, your DID, or your PDS's address.</p>
            </div>
          </Form>
          <hr />
          <Form method="post" action="/auth/login" reloadDocument>
            <input type="hidden" name="username" value="https://bsky.social" />
            {view.returnTo ? <input type="hidden" name="return_to" value={view.returnTo} /> : null}
            <p className="muted">No Bluesky account yet?</p>
            <button type="submit" className="secondary">
              Create Account with Bluesky Social
            </button>
          </Form>
        </div>
      </main>
    </>
  );
}

export const ErrorBoundary = AuthErrorBoundary;
