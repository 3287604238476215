// node:http ↔ Fetch API, our own small adapter (ADR 001). The request body is a backpressured
// stream, so a client can never make us buffer more than the pipeline asks for (the pipeline
// stops reading at MAX_BODY_BYTES and answers 413 with `Connection: close`); a response body is
// piped with backpressure; no failure of either side can throw outside a request.
import type http from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Handler } from "./http.server";
import { errorDetails, type Logger } from "./log.server";

/** Only for what happens before the pipeline exists for a request (an unparsable target). */
const MINIMAL_HEADERS = {
  "Content-Type": "text/plain; charset=utf-8",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Cache-Control": "no-store",
};

export function createRequestListener(handler: Handler, log: Logger, origin: string): http.RequestListener {
  const fast = handler.fast;
  return (req, res) => {
    if (fast) {
      const h = req.headers;
      const answer = fast(req.method ?? "GET", req.url ?? "/", { requestId: one(h["x-request-id"]), forwardedFor: one(h["x-forwarded-for"]) }, req.socket.remoteAddress ?? "");
      if (answer) {
        res.writeHead(answer.status, [...answer.headers.flat(), "Content-Length", String(Buffer.byteLength(answer.body))]);
        res.end(req.method === "HEAD" ? undefined : answer.body);
        return;
      }
    }
    serve(req, res).catch((err) => {
      log.error({ err: errorDetails(err) }, "request listener error");
      res.destroy();
    });
  };

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    let request: Request;
    try {
      request = toFetchRequest(req, abort.signal, origin);
    } catch (err) {
      log.warn({ target: String(req.url).slice(0, 200), err: errorDetails(err) }, "request target refused");
      return writeResponse(req, res, new Response("Bad request target\n", { status: 400, headers: { ...MINIMAL_HEADERS, Connection: "close" } }));
    }
    let response: Response;
    try {
      response = await handler(request, req.socket.remoteAddress ?? "");
    } catch (err) {
      // The pipeline answers every error itself; this is a bug in it.
      log.error({ err: errorDetails(err) }, "request pipeline failed");
      response = new Response("Internal Server Error\n", { status: 500, headers: MINIMAL_HEADERS });
    }
    try {
      await writeResponse(req, res, response);
    } catch (err) {
      // The client went away mid-response: nothing to answer, the socket is already gone.
      log.debug({ err: errorDetails(err) }, "response not delivered");
      res.destroy();
    }
  }
}

/** A header node:http may have joined or listed (x-forwarded-for repeats are joined with ", "). */
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(", ") : v);

function toFetchRequest(req: http.IncomingMessage, signal: AbortSignal, origin: string): Request {
  const method = req.method ?? "GET";
  // Only the path and query matter: the pipeline puts every request on the platform origin.
  // An origin-form target is appended as it is (`//x` stays a path), an absolute-form one keeps
  // its path; `*` and anything else is refused.
  const target = req.url ?? "/";
  const url = target.startsWith("/") ? new URL(origin + target) : new URL(target);
  if (!/^https?:$/.test(url.protocol)) throw new Error("not an http target");
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const init: RequestInit & { duplex?: "half" } = { method, headers, signal };
  if (method !== "GET" && method !== "HEAD") {
    init.body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
    init.duplex = "half";
  }
  return new Request(url, init);
}

async function writeResponse(req: http.IncomingMessage, res: http.ServerResponse, response: Response): Promise<void> {
  const raw: string[] = [];
  for (const [key, value] of response.headers) raw.push(key, value); // Set-Cookie stays one entry per cookie
  res.writeHead(response.status, raw);
  if (!response.body || req.method === "HEAD") {
    await response.body?.cancel().catch(() => undefined);
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>), res);
}
