import { jsonError } from "~/server/responses.server";

// Unknown /api/* paths: JSON, never the HTML 404 page (management.md §4.1).
export const loader = () => jsonError("Not found", 404);
export const action = () => jsonError("Not found", 404);
