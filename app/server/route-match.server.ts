// Which route of the build a path reaches, known to the pipeline before React Router runs: the
// per-route `default` rate limit is keyed by the route (not the concrete path, or every new
// slug or unknown path would be a fresh budget), and a method the route does not answer
// (OPTIONS included) is a 405 whose Allow lists the methods it does.
import { matchPath, matchRoutes, type RouteObject, type ServerBuild } from "react-router";

interface RouteNode {
  id: string;
  path?: string;
  index?: boolean;
  caseSensitive?: boolean;
  children: RouteNode[];
}

export interface MatchedRoute {
  id: string;
  /** Methods the route answers: a module's `allow` export, else GET/HEAD (+ POST with an action). */
  allow: string[];
  /** A catch-all (`*`) route: the path is unknown. */
  splat: boolean;
  /**
   * A resource route (no component, no error boundary: React Router answers it with its loader
   * or action alone): that handler, and the route's params for a decoded path.
   */
  resource?: {
    handler(method: string): ResourceHandler | undefined;
    params(decodedPath: string): Record<string, string | undefined>;
  };
}

export type ResourceHandler = (args: { request: Request; params: Record<string, string | undefined>; context: unknown }) => unknown;

export function createRouteMatcher(build: Pick<ServerBuild, "routes">): (path: string) => MatchedRoute | undefined {
  const nodes = new Map<string, RouteNode>();
  for (const r of Object.values(build.routes)) {
    if (r) nodes.set(r.id, { id: r.id, path: r.path, index: r.index, caseSensitive: r.caseSensitive, children: [] });
  }
  const roots: RouteNode[] = [];
  for (const r of Object.values(build.routes)) {
    if (!r) continue;
    const node = nodes.get(r.id)!;
    const parent = r.parentId ? nodes.get(r.parentId) : undefined;
    (parent ? parent.children : roots).push(node);
  }
  // matchRoutes wants index routes without children.
  const tree = (ns: RouteNode[]): RouteNode[] => ns.map((n) => (n.index ? { ...n, children: undefined as never } : { ...n, children: tree(n.children) }));
  const routes = tree(roots);
  const cache = new Map<string, MatchedRoute | undefined>();
  // matchRoutes flattens and ranks the whole route tree on every call (~0.3 ms, a third of a
  // health check's CPU); paths repeat, so the answers are kept, up to a bound (unknown paths
  // are unbounded in number).
  const byPath = new Map<string, MatchedRoute | undefined>();
  const MAX_PATHS = 4096;

  return (path) => {
    if (byPath.has(path)) return byPath.get(path);
    if (byPath.size >= MAX_PATHS) byPath.clear();
    const matched = match(path);
    byPath.set(path, matched);
    return matched;
  };

  function match(path: string): MatchedRoute | undefined {
    const matches = matchRoutes(routes as RouteObject[], path);
    const leaf = matches?.[matches.length - 1]?.route as RouteNode | undefined;
    if (!leaf) return undefined;
    if (!cache.has(leaf.id)) {
      const mod = build.routes[leaf.id]?.module as
        | { allow?: string[]; action?: ResourceHandler; loader?: ResourceHandler; default?: unknown; ErrorBoundary?: unknown }
        | undefined;
      const allow = mod?.allow ?? (mod?.action ? ["GET", "HEAD", "POST"] : ["GET", "HEAD"]);
      const entry: MatchedRoute = { id: leaf.id, allow, splat: leaf.path?.endsWith("*") ?? false };
      if (mod && mod.default == null && mod.ErrorBoundary == null) {
        const pattern = { path: patternOf(leaf.id), caseSensitive: leaf.caseSensitive ?? false, end: true };
        const dynamic = /[:*]/.test(pattern.path);
        entry.resource = {
          handler: (method) => (method === "GET" || method === "HEAD" ? mod.loader : mod.action),
          // matchPath compiles the pattern on every call: a static path has no params to find.
          params: (decodedPath) => (dynamic ? (matchPath(pattern, decodedPath)?.params ?? {}) : {}),
        };
      }
      cache.set(leaf.id, entry);
    }
    return cache.get(leaf.id);
  }

  /** The full path pattern of a route: its ancestors' paths joined. */
  function patternOf(id: string): string {
    const parts: string[] = [];
    for (let r = build.routes[id]; r; r = r.parentId ? build.routes[r.parentId] : undefined) if (r.path) parts.unshift(r.path);
    return "/" + parts.join("/");
  }
}
