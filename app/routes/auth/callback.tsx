import { redirect } from "react-router";
import { AuthErrorBoundary } from "~/components/auth-error";
import { authError } from "~/server/auth-errors.server";
import { hostCookieName, readCookie } from "~/server/cookies.server";
import { flashCookie } from "~/server/flash.server";
import { finishLogin, LOGIN_STATE_COOKIE } from "~/server/login.server";
import type { Route } from "./+types/callback";

// The ATProto authorization server sends the browser back here (auth.md §5). Failures are the
// /auth error page (or JSON), with the login binding cookie cleared either way.
export async function loader({ request, context }: Route.LoaderArgs) {
  const { platform } = context;
  const params = new URL(request.url).searchParams;
  const binding = readCookie(request, hostCookieName(platform.cookies, LOGIN_STATE_COOKIE));
  const result = await finishLogin(platform, params, binding, context.reqId);
  const headers = new Headers();
  for (const c of result.setCookies) headers.append("Set-Cookie", c);
  if (result.ok) {
    context.state.did = result.did;
    return redirect(result.location, { headers });
  }
  if (result.kind === "denied") {
    headers.append("Set-Cookie", flashCookie(platform, { category: "danger", message: result.flash }));
    return redirect(result.location, { headers });
  }
  throw authError(result.status, result.message, { returnTo: result.returnTo, headers });
}

export default function Callback() {
  return null;
}

export const ErrorBoundary = AuthErrorBoundary;
