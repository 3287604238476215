// Response helpers shared by resource routes and the request pipeline (D15): JSON errors for
// /api and JSON clients, a small styled HTML page for errors raised outside React rendering.

import { isApiPath, rulePath } from "./paths.server";

export const NO_STORE = { "Cache-Control": "no-store" };

/**
 * Error responses carry their message to the pipeline's log line (acceptance E4) in this
 * header; the pipeline removes it before the response leaves (`readCause`).
 */
const CAUSE_HEADER = "x-robot-cause";
const withCause = (message: string, headers: Record<string, string>) => ({ ...headers, [CAUSE_HEADER]: encodeURIComponent(message.slice(0, 300)) });

/** The cause an error response carries, removed from it. */
export function readCause(response: Response): string | undefined {
  const raw = response.headers.get(CAUSE_HEADER);
  if (raw === null) return undefined;
  response.headers.delete(CAUSE_HEADER);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export function json(data: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...headers },
  });
}

export function jsonError(message: string, status: number, headers: Record<string, string> = {}): Response {
  return json({ error: message }, status, withCause(message, { "Cache-Control": "no-store", ...headers }));
}

export function methodNotAllowed(allow: string[], asJson = true): Response {
  const headers = { Allow: allow.join(", ") };
  return asJson ? jsonError("Method not allowed", 405, headers) : htmlErrorPage(405, "Method not allowed", headers);
}

/** True when the best Accept match is application/json rather than HTML. */
export function prefersJson(request: Request): boolean {
  const accept = request.headers.get("accept");
  if (!accept) return false;
  let jsonQ = 0;
  let htmlQ = 0;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    const qParam = params.find((p) => p.trim().startsWith("q="));
    const q = qParam ? Number(qParam.split("=")[1]) || 0 : 1;
    if (type === "application/json") jsonQ = Math.max(jsonQ, q);
    if (type === "text/html" || type === "*/*" || type === "text/*") htmlQ = Math.max(htmlQ, type === "text/html" ? q : q * 0.99);
  }
  return jsonQ > 0 && jsonQ > htmlQ;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** A complete styled error page for failures raised before React renders (CSRF, 413, 429, 500). */
export function htmlErrorPage(
  status: number,
  message: string,
  headers: Record<string, string> = {},
  opts: { title?: string; detail?: string; link?: { href: string; label: string } } = {},
): Response {
  const title = opts.title ?? `Error ${status}`;
  const link = opts.link ?? { href: "/", label: "Back to robot.wtf" };
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} – robot.wtf</title><link rel="stylesheet" href="/static/style.css"></head>
<body><header class="site-header"><a class="brand" href="/"><img src="/static/robot.wtf.svg" alt="" width="28" height="28"> robot.wtf</a></header>
<main class="container narrow"><div class="card error-card"><h1>${escapeHtml(title)}</h1>
<p class="status">${status}</p><p><code>${escapeHtml(message)}</code></p>
${opts.detail ? `<p>${escapeHtml(opts.detail)}</p>` : ""}
<p><a class="button" href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p></div></main></body></html>`;
  return new Response(body, { status, headers: withCause(message, { "Content-Type": "text/html; charset=utf-8", ...headers }) });
}

/** JSON or HTML error, by path (/api) and Accept. */
export function errorResponse(request: Request, status: number, message: string, headers: Record<string, string> = {}, html?: { title?: string; detail?: string }): Response {
  if (isApiPath(rulePath(new URL(request.url).pathname)) || prefersJson(request)) return jsonError(message, status, headers);
  return htmlErrorPage(status, message, headers, html);
}

/** A JSON success body with `Cache-Control: no-store` (management.md §4.1). */
export function jsonOk(data: unknown, status = 200): Response {
  return json(data, status, NO_STORE);
}

/** The API side of a domain failure (`{ status, error: { api } }`) as `{"error": …}`. */
export function apiFailure(failure: { status: number; error: { api: string } }): Response {
  return jsonError(failure.error.api, failure.status);
}

/**
 * The JSON body of an API request as an object (management.md §4.1): an empty body counts
 * as `{}`; anything that does not parse, or is not an object, throws a 400 JSON response.
 */
export async function readJsonObject(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw jsonError("Invalid JSON body", 400);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw jsonError("Request body must be a JSON object", 400);
  }
  return parsed as Record<string, unknown>;
}
