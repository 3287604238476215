import { createContext, useContext } from "react";

// The per-request CSP nonce, provided by entry.server.tsx. Browsers hide nonce attributes from
// the DOM, so the client renders "" (React does not treat that as a hydration mismatch).
const NonceContext = createContext<string>("");
export const NonceProvider = NonceContext.Provider;
export const useNonce = () => useContext(NonceContext);
