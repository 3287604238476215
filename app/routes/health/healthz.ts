import { json, methodNotAllowed } from "~/server/responses.server";

// Liveness (D16): the process answers; no database involved.
export const loader = () => json({ status: "ok" }, 200, { "Cache-Control": "no-store" });
export const action = () => methodNotAllowed(["GET", "HEAD"]);
