import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import { tempDir } from '../helpers.js';
import { transpiledFixture } from '../transpiled.js';
import { claimUntilDrained } from './claimer.js';
import { T0, manifest, session, task } from './contract.js';
import { freshDatabase, openPgStore, pgExec, requirePg } from './pg-db.js';

const available = await requirePg();
let db: Awaited<ReturnType<typeof freshDatabase>> | undefined;

beforeAll(async () => {
  if (available) {
    db = await freshDatabase();
    await pgExec(db.url, CAP_GUARD);
  }
});
afterAll(async () => {
  await db?.drop();
});

// A commit that leaves more tasks running than a session's or version's cap fails: the claim's own
// serialisation is what keeps this from ever firing. (Checked at commit, on a fresh snapshot.)
const CAP_GUARD = `
CREATE FUNCTION warden_test_caps() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT count(*) FROM tasks WHERE state = 'running' AND session_id = NEW.session_id)
     > (SELECT max_concurrency FROM sessions WHERE id = NEW.session_id) THEN
    RAISE EXCEPTION 'session % is over its cap', NEW.session_id;
  END IF;
  IF (SELECT count(*) FROM tasks WHERE state = 'running' AND agent_key = NEW.agent_key)
     > (SELECT concurrency FROM agents WHERE key = NEW.agent_key) THEN
    RAISE EXCEPTION 'agent % is over its cap', NEW.agent_key;
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER warden_test_caps AFTER UPDATE ON tasks DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (NEW.state = 'running') EXECUTE FUNCTION warden_test_caps();`;

/** A claimer in its own process: `ready` resolves once its store is open; `go()` starts it. */
function childClaimer(script: string, args: string[]) {
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let markReady = () => {};
  const ready = new Promise<void>((r) => (markReady = r));
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) markReady();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const result = new Promise<{ claimed: string[] }>((resolve, reject) =>
    child.on('exit', (code) => {
      markReady();
      const line = /^result (.*)$/m.exec(out);
      if (code === 0 && line) resolve(JSON.parse(line[1]!) as { claimed: string[] });
      else reject(new Error(`child exit ${code}: ${err}`));
    }),
  );
  return { ready, result, go: () => child.stdin.end('go\n') };
}

describe.skipIf(!available)('several PostgreSQL stores (and processes) claiming from one queue', () => {
  it('claim every task exactly once, never exceed a cap, and never fork a chain', async () => {
    const stores: Store[] = [];
    const open = async () => {
      const s = await openPgStore({ url: db!.url, keyDir: join(tempDir(), 'keys'), pool: { max: 3 } });
      stores.push(s);
      return s;
    };
    try {
      const first = await open();
      const s1 = session(1, 3); // at most 3 running
      const s2 = session(2);
      await first.createSession(s1);
      await first.createSession(s2);
      const alpha = await first.putAgent(manifest('alpha', 4), null, T0); // at most 4 running
      const beta = await first.putAgent(manifest('beta', 100), null, T0);
      const tasks = [
        ...Array.from({ length: 100 }, (_, i) => task(1 + i, s1, alpha.key)),
        ...Array.from({ length: 60 }, (_, i) => task(101 + i, s2, alpha.key)),
        ...Array.from({ length: 140 }, (_, i) => task(161 + i, s2, beta.key)),
      ];
      for (let i = 0; i < tasks.length; i += 50) await first.submit(tasks.slice(i, i + 50));

      const runnable = [alpha.key, beta.key];
      const script = transpiledFixture('test/fixtures/pg-claimer.ts', tempDir());
      const inProcess = await Promise.all([open(), open()]);
      const children = ['child-a', 'child-b'].map((owner) =>
        childClaimer(script, [db!.url, join(tempDir(), 'keys'), owner, runnable.join(','), '4', '3']),
      );
      await Promise.all(children.map((c) => c.ready));
      const started = Date.now();
      for (const c of children) c.go();
      const results = await Promise.all([
        claimUntilDrained(first, { owner: 'w0', runnable, batch: 4, workMs: 3 }),
        ...inProcess.map((s, i) =>
          claimUntilDrained(s, { owner: `w${i + 1}`, runnable, batch: 4, workMs: 3 }),
        ),
        ...children.map((c) => c.result),
      ]);
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `5 claimers (3 stores in this process, 2 processes) ran ${tasks.length} tasks in ${seconds.toFixed(2)} s`,
      );

      const all = results.flatMap((r) => r.claimed);
      expect(all.length).toBe(tasks.length);
      expect(new Set(all).size).toBe(tasks.length);
      for (const r of results.slice(3)) expect(r.claimed.length).toBeGreaterThan(0); // the children took part
      const states = await pgExec<{ state: string; attempts: number; n: number }>(
        db!.url,
        'SELECT state, attempts, count(*)::int AS n FROM tasks GROUP BY 1, 2',
      );
      expect(states).toEqual([{ state: 'succeeded', attempts: 1, n: tasks.length }]);
      // Each node signs what it committed (on a timer, and at close): once they are closed, all is signed.
      for (const s of stores.splice(1)) await s.close();
      for (const s of [s1, s2]) {
        const v = await first.verifyChain(s.id);
        expect(v).toMatchObject({ ok: true, unsigned: 0, length: s === s1 ? 1 + 100 * 3 : 1 + 200 * 3 });
        const started = (await first.readChain(s.id)).filter(
          (l) => JSON.parse(l.recordJson).type === 'task.started',
        );
        expect(started.length).toBe(s === s1 ? 100 : 200);
      }
    } finally {
      for (const s of stores) await s.close();
    }
  }, 120_000);

  it('hold caps when many claimers share a session and version far below its cap (one stripe each) and near it (all stripes)', async () => {
    // Ten claimers of batch 32 hold their tasks for a while: together they want up to 320 running, the
    // caps are 200, so claims start on one stripe each (running + 128 <= 200) and end on all of them. The
    // cap guard fails the commit of any claim that leaves more than 200 running.
    const stores: Store[] = [];
    try {
      for (let i = 0; i < 10; i++)
        stores.push(await openPgStore({ url: db!.url, keyDir: join(tempDir(), 'keys'), pool: { max: 2 } }));
      const [first] = stores;
      const s = session(3, 200, 'striped');
      await first!.createSession(s);
      const agent = await first!.putAgent(manifest('gamma', 200), null, T0);
      const tasks = Array.from({ length: 800 }, (_, i) => task(1001 + i, s, agent.key));
      for (let i = 0; i < tasks.length; i += 200) await first!.submit(tasks.slice(i, i + 200));
      const results = await Promise.all(
        stores.map((st, i) =>
          claimUntilDrained(st, { owner: `g${i}`, runnable: [agent.key], batch: 32, workMs: 25 }),
        ),
      );
      const all = results.flatMap((r) => r.claimed);
      expect(all.length).toBe(tasks.length);
      expect(new Set(all).size).toBe(tasks.length);
      // The other claimers sign what they appended on their sign timer, or when they close: close them, so
      // that the whole chain is covered by signed heads when `first` verifies it.
      for (const st of stores.splice(1)) await st.close();
      const v = await first!.verifyChain(s.id);
      expect(v).toMatchObject({ ok: true, length: 1 + 800 * 3 });
    } finally {
      for (const st of stores) await st.close();
    }
  }, 120_000);
});
