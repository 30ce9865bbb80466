import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../src/provenance/index.js';
import type { MemoryPort, NewMemory } from '../src/memory/index.js';
import { openSqliteStore, sqliteNodeKey, type Store } from '../src/store/index.js';
import { tempDir } from './helpers.js';
import { T0, session } from './store-contract/contract.js';
import { freshDatabase, openPgStore, pgExec, requirePg, truncateAll } from './store-contract/pg-db.js';

// The MemoryPort contract, on both backends: what Cortex relies on, and the provenance each write appends
// (identical records on SQLite and PostgreSQL).

const S1 = session(1);
const S2 = { ...session(2), tenant: 'acme' };

function vec(...xs: number[]): Float32Array {
  const v = new Float32Array(4);
  xs.forEach((x, i) => (v[i] = x));
  return v;
}

function item(n: number, over: Partial<NewMemory> = {}): NewMemory {
  const text = over.text ?? `item ${n}`;
  return {
    id: `m-${n}`,
    tenant: 'default',
    sessionId: S1.id,
    agent: null,
    text,
    metadataJson: JSON.stringify({ n }),
    embedder: 'test-4',
    embedding: vec(n, 1),
    taskId: null,
    createdAt: T0 + n,
    expiresAt: null,
    textDigest: sha256Hex(text),
    ...over,
  };
}

/** The scripted operations; returns the memory records of both sessions' chains (type, data). */
async function script(store: Store): Promise<unknown[]> {
  await store.createSession(S1);
  await store.createSession(S2);
  const m: MemoryPort = store.memories;
  const keys = await m.insertMemories([item(1), item(2), item(3, { agent: 'bot', taskId: null })]);
  expect(keys).toHaveLength(3);
  expect(keys[0]! < keys[1]! && keys[1]! < keys[2]!).toBe(true);
  await m.insertMemories([item(4, { expiresAt: T0 + 100 }), item(5, { sessionId: S2.id, tenant: 'acme' })]);

  // Scopes: the session's (agent null) and the agent's are apart.
  const sessionScope = { sessionId: S1.id, agent: null };
  expect(await m.countMemories(sessionScope)).toBe(3);
  expect(await m.countMemories({ sessionId: S1.id, agent: 'bot' })).toBe(1);
  expect((await m.listMemories(sessionScope, T0 + 50, 10)).map((r) => r.id)).toEqual(['m-4', 'm-2', 'm-1']);
  // Expired at T0 + 100: not listed, found by expiredMemories.
  expect((await m.listMemories(sessionScope, T0 + 100, 10)).map((r) => r.id)).toEqual(['m-2', 'm-1']);
  expect(await m.expiredMemories(T0 + 100, 10)).toEqual(['m-4']);
  expect(await m.expiredMemories(T0 + 99, 10)).toEqual([]);

  // A row round-trips, vector bytes included.
  const one = (await m.getMemory('m-2'))!;
  expect(one).toMatchObject({
    id: 'm-2',
    sessionId: S1.id,
    agent: null,
    metadata: { n: 2 },
    embedder: 'test-4',
  });
  expect([...one.embedding]).toEqual([2, 1, 0, 0]);
  expect(await m.getMemory('m-5', 'default')).toBeUndefined();
  expect((await m.getMemory('m-5', 'acme'))?.text).toBe('item 5');

  expect((await m.memoriesAfter(sessionScope, keys[0]!, 10)).map((r) => r.id)).toEqual(['m-2', 'm-4']);
  expect((await m.memoriesByKeys([keys[0]!, keys[2]!, 999_999])).map((r) => r.id).sort()).toEqual([
    'm-1',
    'm-3',
  ]);
  expect(await m.memoriesBeyond(sessionScope, 1)).toEqual(['m-2', 'm-1']);

  // Deleting another tenant's id deletes nothing; the tenant's own goes, with its record.
  expect(await m.deleteMemories(['m-5'], 'forgotten', T0 + 200, 'default')).toEqual([]);
  expect((await m.deleteMemories(['m-5'], 'forgotten', T0 + 200, 'acme')).map((g) => g.id)).toEqual(['m-5']);
  const gone = await m.deleteMemories(['m-4', 'm-1', 'nope'], 'expired', T0 + 300);
  expect(gone).toEqual([
    { id: 'm-4', key: expect.any(Number), sessionId: S1.id, agent: null },
    { id: 'm-1', key: keys[0], sessionId: S1.id, agent: null },
  ]);
  expect(await m.deleteMemories(['m-3'], 'evicted', T0 + 400)).toHaveLength(1);
  expect(await m.countMemories(sessionScope)).toBe(1);

  const out: unknown[] = [];
  for (const s of [S1, S2])
    for (const l of await store.readChain(s.id)) {
      const r = JSON.parse(l.recordJson) as { type: string; at: number; data?: unknown; taskId?: string };
      if (r.type.startsWith('memory.')) out.push({ session: s.name, type: r.type, at: r.at, data: r.data });
    }
  return out;
}

const expected = [
  {
    session: 's1',
    type: 'memory.put',
    at: T0 + 1,
    data: { memoryId: 'm-1', scope: 'session', textDigest: sha256Hex('item 1') },
  },
  {
    session: 's1',
    type: 'memory.put',
    at: T0 + 2,
    data: { memoryId: 'm-2', scope: 'session', textDigest: sha256Hex('item 2') },
  },
  {
    session: 's1',
    type: 'memory.put',
    at: T0 + 3,
    data: { memoryId: 'm-3', scope: 'agent', agent: 'bot', textDigest: sha256Hex('item 3') },
  },
  {
    session: 's1',
    type: 'memory.put',
    at: T0 + 4,
    data: { memoryId: 'm-4', scope: 'session', textDigest: sha256Hex('item 4'), expiresAt: T0 + 100 },
  },
  {
    session: 's1',
    type: 'memory.forget',
    at: T0 + 300,
    data: { memoryId: 'm-4', scope: 'session', reason: 'expired' },
  },
  {
    session: 's1',
    type: 'memory.forget',
    at: T0 + 300,
    data: { memoryId: 'm-1', scope: 'session', reason: 'expired' },
  },
  {
    session: 's1',
    type: 'memory.forget',
    at: T0 + 400,
    data: { memoryId: 'm-3', scope: 'agent', agent: 'bot', reason: 'evicted' },
  },
  {
    session: 's2',
    type: 'memory.put',
    at: T0 + 5,
    data: { memoryId: 'm-5', scope: 'session', textDigest: sha256Hex('item 5') },
  },
  {
    session: 's2',
    type: 'memory.forget',
    at: T0 + 200,
    data: { memoryId: 'm-5', scope: 'session', reason: 'forgotten' },
  },
];

describe('memory port: SQLite', () => {
  it('stores, scopes, expires, deletes by tenant, and records every write in the chain', async () => {
    const path = join(tempDir(), 'warden.db');
    const store = await openSqliteStore({ path }, sqliteNodeKey(path));
    try {
      expect(await script(store)).toEqual(expected);
      for (const s of [S1, S2]) expect((await store.verifyChain(s.id)).ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});

const available = await requirePg();
let db: Awaited<ReturnType<typeof freshDatabase>> | undefined;
beforeAll(async () => {
  if (available) db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe.skipIf(!available)('memory port: PostgreSQL', () => {
  it('passes the same script with byte-identical records', async () => {
    await truncateAll(db!.url);
    await pgExec(db!.url, 'TRUNCATE memories'); // truncateAll predates the table
    const store = await openPgStore({
      url: db!.url,
      keyDir: join(tempDir(), 'keys'),
      signIntervalMs: 0,
      pool: { max: 4 },
    });
    try {
      expect(await script(store)).toEqual(expected);
      for (const s of [S1, S2]) expect((await store.verifyChain(s.id)).ok).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!available)('Cortex on PostgreSQL: two processes, one table', () => {
  it("sees another process's puts and forgets; the table is the truth", async () => {
    await truncateAll(db!.url);
    await pgExec(db!.url, 'TRUNCATE memories'); // truncateAll predates the table
    const { Warden } = await import('../src/index.js');
    const open = () => Warden.open({ storage: { postgres: db!.url, root: tempDir() }, workers: false });
    const a = await open();
    const b = await open();
    try {
      await a.ensureSession({ name: 'shared' });
      const lisbon = await a.memory.put('shared', { text: 'the user lives in Lisbon' });
      // B's index is built from the table, A's item included.
      expect((await b.memory.search('shared', { query: 'where does the user live' }))[0]!.item.id).toBe(
        lisbon.id,
      );
      // A's index is loaded now; B's later put is caught up into it by key.
      expect(await a.memory.search('shared', { query: 'Lisbon' })).toHaveLength(1);
      const jazz = await b.memory.put('shared', { text: 'the user likes jazz music' });
      expect((await a.memory.search('shared', { query: 'jazz music' }))[0]!.item.id).toBe(jazz.id);
      // B forgets; A's index still holds the key, but the row is gone and the hit is dropped.
      await b.memory.forget(lisbon.id);
      const hits = await a.memory.search('shared', { query: 'where does the user live', k: 5 });
      expect(hits.map((h) => h.item.id)).toEqual([jazz.id]);
      expect((await a.verify('shared')).ok).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
