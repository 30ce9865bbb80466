// One `warden worker`-like process for bench/postgres.bench.ts: opens Warden on the shared PostgreSQL
// database with an inline no-op handler (the same workload graphile-worker's peer bench runs) and counts
// every statement it sends, so the bench can report the per-task database cost.
// Usage: node --import tsx bench/lib/pg-worker.ts <database url> <data dir>
// Prints {"ready":true} once open, starts claiming when a line arrives on stdin (so that process start-up is
// not timed), and on SIGTERM prints {"statements": n, "succeeded": n} counted since it started claiming.
import pg from 'pg';

let statements = 0;
const query = pg.Client.prototype.query;
// Counting at the client: each call is one round trip to the server (extended protocol, no pipelining).
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

const [url, root] = process.argv.slice(2) as [string, string];
const { Warden } = await import('../../src/index.js');
// Workers off at open: the scheduler starts (with its default concurrency) on the parent's signal.
const warden = await Warden.open({ storage: { postgres: url, root }, workers: false });
await warden.registerHandler('noop', () => null);
let succeeded = 0;
warden.scheduler.events.on('task', (e) => {
  if (e.state === 'succeeded') succeeded++;
});
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
process.stdin.once('data', () => {
  statements = 0;
  void warden.scheduler.start();
});

process.on('SIGTERM', () => {
  void warden.close().then(() => {
    process.stdout.write(`${JSON.stringify({ statements, succeeded })}\n`);
    process.exit(0);
  });
});
