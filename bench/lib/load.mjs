// A small closed-loop HTTP load generator, run as its own process so it does not share the server's core.
// Usage: node load.mjs <json: {url, method, headers, body, durationMs, concurrency}>
// Prints one JSON line: {"requests": n, "rps": x, "p50": ms, "p99": ms, "errors": n}
import http from 'node:http';

const cfg = JSON.parse(process.argv[2]);
const agent = new http.Agent({ keepAlive: true, maxSockets: cfg.concurrency });
const url = new URL(cfg.url);
const body = cfg.body === undefined ? undefined : JSON.stringify(cfg.body);
const latencies = [];
let errors = 0;
const until = performance.now() + cfg.durationMs;

function once() {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: cfg.method ?? 'GET',
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...cfg.headers },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode >= 400) errors++;
          latencies.push(performance.now() - started);
          resolve();
        });
      },
    );
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end(body);
  });
}

async function worker() {
  while (performance.now() < until) await once();
}

const t0 = performance.now();
await Promise.all(Array.from({ length: cfg.concurrency }, worker));
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, rps: latencies.length / seconds, p50: q(0.5), p99: q(0.99), errors })}\n`,
);
agent.destroy();
