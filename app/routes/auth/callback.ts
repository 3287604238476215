import { redirect } from "react-router";
import { hostCookieName, readCookie } from "~/server/cookies.server";
import { flashCookie } from "~/server/flash.server";
import { finishLogin, LOGIN_STATE_COOKIE } from "~/server/login.server";
import { authErrorResponse, methodNotAllowed } from "~/server/responses.server";
import type { Route } from "./+types/callback";

// The ATProto authorization server sends the browser back here (auth.md §5).
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
  return authErrorResponse(request, result.status, result.message, { returnTo: result.returnTo, headers });
}

export const action = () => methodNotAllowed(["GET"], false);
