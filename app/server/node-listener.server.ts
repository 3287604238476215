// node:http ↔ Fetch API, our own small adapter (ADR 001). The request body is a backpressured
// stream, so a client can never make us buffer more than the pipeline asks for (the pipeline
// stops reading at MAX_BODY_BYTES and answers 413 with `Connection: close`); a response body is
// piped with backpressure; no failure of either side can throw outside a request.
import type http from "node:http";
import { Readable } from "node:stream";
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
    // Only a client that goes away aborts (an abort builds a DOMException: not on every request).
    res.on("close", () => {
      if (!res.writableFinished) abort.abort();
    });
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

/**
 * Writes a Fetch response. A body that arrives in one chunk (JSON, redirects, most error pages)
 * goes out with its Content-Length in one write; a streamed one (SSR) chunk by chunk, waiting
 * for the socket to drain, and its stream is cancelled if the client goes away.
 */
async function writeResponse(req: http.IncomingMessage, res: http.ServerResponse, response: Response): Promise<void> {
  const raw: string[] = [];
  for (const [key, value] of response.headers) raw.push(key, value); // Set-Cookie stays one entry per cookie
  if (!response.body || req.method === "HEAD") {
    await response.body?.cancel().catch(() => undefined);
    res.writeHead(response.status, raw);
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    const first = await reader.read();
    const second = first.done ? first : await reader.read();
    if (second.done) {
      if (first.value && !response.headers.has("content-length")) raw.push("Content-Length", String(first.value.byteLength));
      res.writeHead(response.status, raw);
      res.end(first.value);
      return;
    }
    res.writeHead(response.status, raw);
    for (let chunk: ReadableStreamReadResult<Uint8Array> = first; !chunk.done; chunk = chunk === first ? second : await reader.read()) {
      if (res.destroyed) throw new Error("client went away");
      if (!res.write(chunk.value)) await drained(res);
    }
    res.end();
  } catch (err) {
    await reader.cancel(err).catch(() => undefined);
    throw err;
  }
}

/** Resolves when the socket can take more, or when it is gone (then the next write sees it). */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
