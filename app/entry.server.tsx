// Server rendering with the per-request CSP nonce (security.md §7); otherwise React Router's
// default Node entry.
import { PassThrough } from "node:stream";
import { createReadableStreamFromReadable } from "@react-router/node";
import { isbot } from "isbot";
import { renderToPipeableStream } from "react-dom/server";
import type { AppLoadContext, EntryContext } from "react-router";
import { isRouteErrorResponse, ServerRouter } from "react-router";
import { NonceProvider } from "./components/nonce";
import { authErrorAsJson } from "./server/auth-errors.server";

export const streamTimeout = 5_000;

export default function handleRequest(
  request: Request,
  responseStatusCode: number,
  responseHeaders: Headers,
  routerContext: EntryContext,
  loadContext: AppLoadContext,
) {
  // An /auth/* error page asked for by a JSON client is answered in JSON (auth.md §1).
  const asJson = authErrorAsJson(request, responseStatusCode, responseHeaders, routerContext);
  if (asJson) return asJson;
  // A page route whose answer is a redirect React Router cannot make (its redirect() parses the
  // target with new URL(), which refuses `{slug}.{IP}` hosts) passes Location through its
  // headers export; the document response is then that 302 (routes/auth/consent.tsx).
  if (responseStatusCode === 200 && responseHeaders.has("Location")) {
    return new Response(null, { status: 302, headers: responseHeaders });
  }
  // The request's log line names what went wrong (acceptance E4).
  const { errors, actionData } = routerContext.staticHandlerContext;
  if (loadContext?.state && !loadContext.state.cause) {
    if (errors) loadContext.state.cause = Object.values(errors).map(describeRouteError).join("; ");
    // A form re-rendered in place with its message (400/403/409 page actions).
    else if (responseStatusCode >= 400 && actionData) {
      const messages = Object.values(actionData).map((d) => (d as { error?: unknown } | null)?.error).filter((m) => typeof m === "string");
      if (messages.length) loadContext.state.cause = messages.join("; ").slice(0, 300);
    }
  }
  const nonce = loadContext?.nonce;
  return new Promise<Response>((resolve, reject) => {
    let shellRendered = false;
    const userAgent = request.headers.get("user-agent");
    // Bots and SPA-mode wait for the whole document; browsers get the shell first.
    const readyOption = (userAgent && isbot(userAgent)) || routerContext.isSpaMode ? "onAllReady" : "onShellReady";
    const { pipe, abort } = renderToPipeableStream(
      <NonceProvider value={nonce ?? ""}>
        <ServerRouter context={routerContext} url={request.url} nonce={nonce} />
      </NonceProvider>,
      {
      nonce,
      [readyOption]() {
        shellRendered = true;
        const body = new PassThrough();
        // The abort timer holds the whole render (request, streams, router context) until it
        // fires; cleared as soon as the document is written, or every request of the last six
        // seconds stays on the heap (issue 7: +20 KB per request under load).
        body.once("close", () => clearTimeout(timer));
        body.once("end", () => clearTimeout(timer));
        const stream = createReadableStreamFromReadable(body);
        responseHeaders.set("Content-Type", "text/html; charset=utf-8");
        resolve(new Response(stream, { headers: responseHeaders, status: responseStatusCode }));
        pipe(body);
      },
      onShellError(error: unknown) {
        clearTimeout(timer);
        reject(error);
      },
      onError(error: unknown) {
        responseStatusCode = 500;
        if (shellRendered) loadContext?.platform?.log.error({ err: String(error) }, "render error");
      },
    });
    const timer = setTimeout(abort, streamTimeout + 1000);
  });
}

function describeRouteError(error: unknown): string {
  if (isRouteErrorResponse(error)) {
    const data = error.data as unknown;
    const message =
      typeof data === "string" ? data : data && typeof data === "object" ? Object.values(data).find((v) => typeof v === "string") : undefined;
    return String(message ?? error.statusText ?? `HTTP ${error.status}`).slice(0, 300);
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Errors thrown in loaders/actions: log with cause unless it is an aborted request. React
 * Router's own 4xx (no route, no action for the method) are no faults: their cause goes on the
 * request's log line instead.
 */
export function handleError(error: unknown, { request, context }: { request: Request; context: AppLoadContext }) {
  if (request.signal.aborted || isRouteErrorResponse(error)) return;
  const err = error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : { message: String(error) };
  context?.platform?.log.error({ reqId: context.reqId, path: new URL(request.url).pathname, err }, "route error");
}
