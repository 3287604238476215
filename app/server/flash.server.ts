// Flash messages (management.md §2): a host-only, HMAC-signed cookie (`__Host-flash` on https),
// 60 s, consumed by the next page render. It never carries a token.
import type { FlashMessage } from "~/components/site";
import { clearHostCookie, hostCookieName, readCookie, setHostCookie, signValue, unsignValue } from "./cookies.server";
import type { Platform } from "./platform.server";

const BASE = "flash";
const CATEGORIES = new Set(["success", "danger", "warning", "info"]);

/** Set-Cookie value carrying these messages to the next page. */
export function flashCookie(platform: Platform, ...messages: FlashMessage[]): string {
  return setHostCookie(platform.cookies, BASE, signValue(platform.keys.cookieKey, JSON.stringify(messages)), 60);
}

export const clearFlashCookie = (platform: Platform) => clearHostCookie(platform.cookies, BASE);

/** Messages waiting for this request, and the Set-Cookie that consumes them (when there were any). */
export function consumeFlash(platform: Platform, request: Request): { messages: FlashMessage[]; setCookie?: string } {
  const raw = readCookie(request, hostCookieName(platform.cookies, BASE));
  if (raw === undefined) return { messages: [] };
  const clear = clearFlashCookie(platform);
  const text = unsignValue(platform.keys.cookieKey, raw);
  if (text === undefined) return { messages: [], setCookie: clear }; // tampered: ignored (SEC5)
  try {
    const parsed = JSON.parse(text);
    const messages = Array.isArray(parsed)
      ? parsed.filter((m) => m && CATEGORIES.has(m.category) && typeof m.message === "string").slice(0, 5)
      : [];
    return { messages, setCookie: clear };
  } catch {
    return { messages: [], setCookie: clear };
  }
}
