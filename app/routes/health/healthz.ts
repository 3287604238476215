import { LIVENESS } from "~/server/health.server";
import { json, methodNotAllowed } from "~/server/responses.server";

/** The methods this route answers (405 and OPTIONS say so in `Allow`). */
export const allow = ["GET", "HEAD"];

// Liveness (D16): the process answers; no database involved.
export const loader = () => json(LIVENESS, 200, { "Cache-Control": "no-store" });
export const action = () => methodNotAllowed(allow);
