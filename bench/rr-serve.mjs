// Reference (b): stock `react-router-serve`'s stack — express, compression, express.static for
// the client build, morgan("tiny"), @react-router/express's request handler — serving the same
// production build. The stock CLI cannot pass a load context, which every route of this app
// reads its platform from, so this file is its cli.js with one addition: getLoadContext.
import crypto from "node:crypto";
import path from "node:path";
import { createRequestHandler } from "@react-router/express";
import compression from "compression";
import express from "express";
import morgan from "morgan";

const root = path.resolve(import.meta.dirname, "..");
const b = await import(path.join(root, "build/server/index.js"));
const config = b.loadConfig(process.env);
const log = b.createLogger(config.logLevel);
const platform = await b.createPlatform(config, log);
const build = b.build;

const app = express();
app.disable("x-powered-by");
app.use(compression());
app.use(path.posix.join(build.publicPath, "assets"), express.static(path.join(root, "build/client/assets"), { immutable: true, maxAge: "1y" }));
app.use(build.publicPath, express.static(path.join(root, "build/client")));
app.use(express.static("public", { maxAge: "1h" }));
app.use(morgan("tiny"));
app.all(
  "*",
  createRequestHandler({
    build,
    mode: process.env.NODE_ENV,
    getLoadContext: (req) => ({
      platform,
      reqId: crypto.randomUUID(),
      clientIp: req.socket.remoteAddress ?? "",
      nonce: crypto.randomBytes(16).toString("base64"),
      state: {},
    }),
  }),
);
const server = app.listen(Number(process.env.PORT), process.env.HOST ?? "127.0.0.1");
process.once("SIGTERM", () => server.close(() => platform.close().then(() => process.exit(0))));
