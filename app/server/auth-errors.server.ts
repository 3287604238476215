// Error pages of /auth/* (auth.md §1, D15): a styled page titled "Error {status}" with the
// message in a <code> block and a "Start Over" link to /auth/login (carrying return_to when one
// is known), or {"error": message} when the best Accept match is application/json.
//
// Use: `throw authError(400, "Missing wiki_slug parameter")` from a loader or action, and export
// `AuthErrorBoundary` (app/components/auth-error.tsx) as the route's ErrorBoundary. The JSON
// variant is chosen in entry.server.tsx (`authErrorAsJson`): a page route cannot hand React
// Router a raw JSON Response for a document request.
import { data, isRouteErrorResponse, type EntryContext } from "react-router";
import { isAuthErrorBody, type AuthErrorBody } from "~/components/auth-error";
import { jsonError, prefersJson } from "./responses.server";

export type { AuthErrorBody };

/** The value to throw: `throw authError(status, message, { returnTo })`. */
export function authError(status: number, message: string, opts: Omit<AuthErrorBody, "authError"> & { headers?: Headers } = {}) {
  const body: AuthErrorBody = { authError: message };
  if (opts.returnTo) body.returnTo = opts.returnTo;
  if (opts.view) body.view = opts.view;
  return data(body, { status, headers: opts.headers });
}

/**
 * For entry.server.tsx: when a document request that prefers JSON ended in an auth error,
 * the JSON response to send instead of the page. Cookies set on the way are kept.
 */
export function authErrorAsJson(
  request: Request,
  status: number,
  headers: Headers,
  context: Pick<EntryContext, "staticHandlerContext">,
): Response | undefined {
  if (!prefersJson(request)) return undefined;
  const errors = context.staticHandlerContext.errors;
  if (!errors) return undefined;
  const error = Object.values(errors).find((e) => isRouteErrorResponse(e) && isAuthErrorBody(e.data));
  if (!error) return undefined;
  const response = jsonError((error.data as AuthErrorBody).authError, status);
  for (const cookie of headers.getSetCookie()) response.headers.append("Set-Cookie", cookie);
  return response;
}
