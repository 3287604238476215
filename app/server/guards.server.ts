// Route guards shared by the `/app/*` pages and `/api/*` routes: authenticate through the one
// identity rule (identity.server.ts) and note the DID for the request log line.
import { data, redirect, type AppLoadContext } from "react-router";
import { flashCookie } from "./flash.server";
import { requireApiUser, requireUser, type SessionUser } from "./identity.server";

interface Args {
  request: Request;
  context: AppLoadContext;
}

/** Pages: the signed-in user, or a thrown redirect to login that returns here afterwards. */
export async function pageUser({ request, context }: Args): Promise<SessionUser> {
  const user = await requireUser(context.platform, request);
  context.state.did = user.did;
  return user;
}

/** API: the signed-in user (Bearer or cookie), or a thrown 401 JSON response. */
export async function apiUser({ request, context }: Args): Promise<SessionUser> {
  const user = await requireApiUser(context.platform, request);
  context.state.did = user.did;
  return user;
}

/** The posted form; a body that is not form data is a 400 page, never a 500 (D15). */
export async function readForm(request: Request): Promise<FormData> {
  try {
    return await request.formData();
  } catch {
    throw data("Invalid form data.", { status: 400 });
  }
}

/** Post/redirect/get: a 302 carrying one flash message. */
export function redirectWithFlash(
  context: AppLoadContext,
  to: string,
  category: "success" | "danger" | "warning" | "info",
  message: string,
): Response {
  return redirect(to, { headers: { "Set-Cookie": flashCookie(context.platform, { category, message }) } });
}

/**
 * The `headers` export of the /app pages. React Router keeps only the cookies of a thrown
 * `data(…, { headers })` unless the route whose error boundary renders it forwards the rest
 * (Allow); so every /app page has both this and an ErrorBoundary.
 */
export function forwardErrorHeaders({ errorHeaders, actionHeaders }: { errorHeaders?: Headers; actionHeaders: Headers }): Headers {
  const out = new Headers();
  for (const name of ["Retry-After", "Allow"]) {
    const value = errorHeaders?.get(name) ?? actionHeaders.get(name);
    if (value) out.set(name, value);
  }
  return out;
}
