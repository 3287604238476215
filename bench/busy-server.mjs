// A bare node:http server that spends a fixed CPU time on every request (BUSY_MS, default 1.2)
// and answers 5 KB: what the latency tail of one Node process looks like when each request
// costs what one of ours does, with none of our code. Used in docs/benchmarks.md:
//   PORT=39111 BUSY_MS=1.2 node bench/busy-server.mjs &
//   wrk -t1 -c32 -d6s --latency http://127.0.0.1:39111/
import http from "node:http";

const busyMs = Number(process.env.BUSY_MS ?? 1.2);
const body = "x".repeat(5000);
http
  .createServer((req, res) => {
    const until = performance.now() + busyMs;
    while (performance.now() < until);
    res.writeHead(200, { "Content-Type": "text/html", "Content-Length": body.length });
    res.end(body);
  })
  .listen(Number(process.env.PORT ?? 39111), "127.0.0.1");
