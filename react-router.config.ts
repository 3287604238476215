import type { Config } from "@react-router/dev/config";

// Server-rendered app; the Node process entry is app/server/main.server.ts (see vite.config.ts).
export default {
  appDirectory: "app",
  ssr: true,
} satisfies Config;
