import { reactRouter } from "@react-router/dev/vite";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const appDir = fileURLToPath(new URL("./app", import.meta.url));

export default defineConfig(({ isSsrBuild }) => ({
  resolve: { alias: { "~": appDir } },
  // The server build's entry is our own Node server, which imports the React Router
  // server build as a virtual module (docs/decisions/002-own-node-server.md).
  build: isSsrBuild ? { rollupOptions: { input: "./app/server/main.server.ts" }, target: "node20" } : undefined,
  // React Router's plugin must not run under vitest: tests import modules directly.
  plugins: process.env.VITEST ? [] : [reactRouter()],
  test: {
    include: ["app/**/*.test.ts"],
    environment: "node",
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ["./app/tests/global-setup.ts"],
  },
}));
