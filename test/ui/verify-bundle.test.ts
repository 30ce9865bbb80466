import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildServer, createApiKey } from '../../src/api/index.js';
import { Warden } from '../../src/index.js';
import {
  MerkleTree,
  canonicalRecordJson,
  publicKeyId,
  serializeBundle,
  sha256Hex,
  verifyBundleText as serverVerify,
} from '../../src/provenance/index.js';
import { verifyBundleText as browserVerify } from '../../ui/src/verify/index.js';
import { fromHex } from '../../ui/src/verify/hash.js';
import { merkleRoot, verifyConsistency, verifyInclusion } from '../../ui/src/verify/merkle.js';

// The dashboard's verifier (ui/src/verify, WebCrypto) against the server's (src/provenance) on bundles that
// a real Warden exported over HTTP: they must agree on every bundle, valid or tampered.

/* eslint-disable @typescript-eslint/no-explicit-any -- bundles are edited as plain JSON here */
type Json = any;

let warden: Warden;
let app: FastifyInstance;
let viewer: string;
let operator: string;
/** The exported bundle's text, as the page downloads it. */
let text: string;

function call(method: 'GET' | 'POST', url: string, key: string, body?: object) {
  return app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${key}` },
    ...(body ? { payload: body } : {}),
  }) as Promise<LightMyRequestResponse>;
}

async function exportText(session: string): Promise<string> {
  const res = await call('POST', '/artifacts/export', viewer, { session });
  expect(res.statusCode).toBe(200);
  return res.body;
}

async function open(root: string) {
  warden = await Warden.open({ storage: { root } });
  await warden.registerHandler('echo', (input: unknown) => ({ echoed: input }), { shared: true });
  await warden.registerHandler(
    'boom',
    () => {
      throw new Error('always fails');
    },
    { retry: { maxAttempts: 2, baseMs: 0 }, shared: true },
  );
  let flaky = 0;
  await warden.registerHandler(
    'flaky',
    () => {
      if (flaky++ % 2 === 0) throw new Error('fails every other time');
      return 'ok';
    },
    { retry: { maxAttempts: 3, baseMs: 0 }, shared: true },
  );
  app = await buildServer(warden, { logger: false, rateLimit: false });
}

let root: string;

beforeAll(async () => {
  // Not helpers' tempDir: that one is removed after each test, and this data lives for the file.
  root = mkdtempSync(join(tmpdir(), 'warden-ui-verify-'));
  await open(root);
  viewer = (await createApiKey(warden.store, { tenant: 'acme', role: 'viewer', name: 'v' })).key;
  operator = (await createApiKey(warden.store, { tenant: 'acme', role: 'operator', name: 'o' })).key;
  expect((await call('POST', '/sessions', operator, { name: 'audit' })).statusCode).toBe(201);
  const run = async (agent: string, input: unknown) => {
    const res = await call('POST', '/sessions/audit/execute?wait=5000', operator, { agent, input });
    return res.json<{ task: { id: string; state: string } }>().task;
  };
  const first = await run('echo', { n: 1 });
  expect(first.state).toBe('succeeded');
  expect((await run('boom', { n: 2 })).state).toBe('dead');
  expect((await run('flaky', { n: 3 })).state).toBe('succeeded');
  for (let i = 0; i < 4; i++) await run('echo', { n: 10 + i, text: 'naïve ✓ 𝄞' });
  const trace = await call('POST', '/traces', operator, {
    session: 'audit',
    taskId: first.id,
    data: { steps: ['plan', 'act'], score: 0.5 },
  });
  expect(trace.statusCode).toBe(201);
  const appended = await call('POST', `/traces/${trace.json<{ id: string }>().id}/provenance`, operator, {
    kind: 'reviewed',
    data: { by: 'alice' },
  });
  expect(appended.statusCode).toBe(201);
  // Closing signs the tree head at commit time: the next export carries it as previousHead.
  await app.close();
  await warden.close();
  await open(root);
  await run('echo', { after: 'reopen' });
  text = await exportText('audit');
});

afterAll(async () => {
  await app?.close();
  await warden?.close();
  rmSync(root, { recursive: true, force: true });
});

const edit = (f: (b: Json) => void): string => {
  const b = JSON.parse(text);
  f(b);
  return serializeBundle(b);
};

/** Index of the first record of `type` (a record that has data). */
const indexOf = (b: Json, type: string) => b.records.findIndex((r: Json) => r.type === type);

const otherKey = () => {
  const key = generateKeyPairSync('ed25519').publicKey;
  return { pem: key.export({ type: 'spki', format: 'pem' }).toString(), keyId: publicKeyId(key) };
};

describe('RFC 6962 in the browser module', () => {
  it("computes the server's roots, and accepts its inclusion and consistency proofs (and not altered ones)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 70 }), fc.nat(), fc.nat(), async (n, a, c) => {
        const leaves = Array.from({ length: n }, (_, i) => `leaf ${i} of ${n}`);
        const tree = MerkleTree.fromLeaves(leaves);
        const leafHashes = Array.from({ length: n }, (_, i) => tree.leaf(i));
        expect(await merkleRoot(leafHashes.map(fromHex))).toBe(tree.root());
        if (n === 0) return;
        const i = a % n;
        const proof = tree.inclusionProof(i, n);
        expect((await verifyInclusion(i, n, leafHashes[i]!, proof, tree.root())).ok).toBe(true);
        if (proof.length > 0) {
          const bad = [...proof];
          bad[c % bad.length] = bad[c % bad.length] === '0'.repeat(64) ? '1'.repeat(64) : '0'.repeat(64);
          expect((await verifyInclusion(i, n, leafHashes[i]!, bad, tree.root())).ok).toBe(false);
        }
        const m = 1 + (c % n);
        const cp = tree.consistencyProof(m, n);
        expect((await verifyConsistency(m, n, tree.root(m), tree.root(), cp)).ok).toBe(true);
        if (m > 1 && m < n)
          expect((await verifyConsistency(m, n, tree.root(m - 1), tree.root(), cp)).ok).toBe(false);
      }),
      { numRuns: 120 },
    );
  });
});

describe('the browser verifier', () => {
  it('verifies a real export with WebCrypto, as the server does', async () => {
    const b = JSON.parse(text);
    const types = new Set(b.records.map((r: Json) => r.type));
    for (const t of ['task.succeeded', 'task.attempt_failed', 'task.dead_lettered', 'trace.created'])
      expect(types).toContain(t);
    expect(b.previousHead).toBeDefined();
    expect(b.previousHead.treeHead.treeSize).toBeLessThan(b.treeHead.treeSize);
    expect(serverVerify(text).ok).toBe(true);
    const v = await browserVerify(text);
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({
      ok: true,
      records: b.records.length,
      treeSize: b.treeHead.treeSize,
      rootHash: b.treeHead.rootHash,
      keyId: b.publicKey.keyId,
      session: 'audit',
      statements: b.statements.length,
    });
    expect(b.statements.length).toBeGreaterThanOrEqual(6);
    // The chain hashes the table shows are the server's.
    expect(v.hashes).toEqual(b.records.map((r: Json) => sha256Hex(canonicalRecordJson(r))));
  });

  it('says the browser cannot verify, rather than that the bundle is bad, without WebCrypto Ed25519', async () => {
    const spy = vi
      .spyOn(globalThis.crypto.subtle, 'importKey')
      .mockRejectedValue(new DOMException('Unrecognized algorithm name', 'NotSupportedError'));
    try {
      const v = await browserVerify(text);
      expect(v.ok).toBe(false);
      expect(v.problems).toEqual([
        { code: 'BROWSER_UNSUPPORTED', where: 'browser', message: expect.stringMatching(/Ed25519/) },
      ]);
    } finally {
      spy.mockRestore();
    }
  });

  const tamperings: [string, (b: Json) => void][] = [
    [
      'record data changed',
      (b) => (b.records[indexOf(b, 'task.succeeded')].data.outputDigest = 'f'.repeat(64)),
    ],
    ['record timestamp changed', (b) => (b.records[3].at += 1)],
    ['a record removed', (b) => b.records.splice(4, 1)],
    ['the last record removed', (b) => b.records.pop()],
    ['two records swapped', (b) => ([b.records[2], b.records[3]] = [b.records[3], b.records[2]])],
    ['prevHash edited', (b) => (b.records[5].prevHash = 'a'.repeat(64))],
    ['rootHash edited', (b) => (b.treeHead.rootHash = 'b'.repeat(64))],
    ['treeSize edited', (b) => (b.treeHead.treeSize -= 1)],
    [
      'signature edited',
      (b) =>
        (b.treeHead.signature = `${b.treeHead.signature[0] === 'A' ? 'B' : 'A'}${b.treeHead.signature.slice(1)}`),
    ],
    ['signature not base64', (b) => (b.treeHead.signature = 'not a signature')],
    ['previous head signature edited', (b) => (b.previousHead.treeHead.signature = b.treeHead.signature)],
    [
      'key replaced by another valid Ed25519 key',
      (b) => {
        const k = otherKey();
        b.publicKey = { ...b.publicKey, ...k };
        b.treeHead.keyId = k.keyId;
        b.previousHead.treeHead.keyId = k.keyId;
      },
    ],
    ['key replaced, key id kept', (b) => (b.publicKey.pem = otherKey().pem)],
    ['key id edited', (b) => (b.publicKey.keyId = 'c'.repeat(64))],
    ['key PEM not canonical', (b) => (b.publicKey.pem = b.publicKey.pem.replace(/\n$/, ''))],
    [
      'statement inclusion proof hash edited',
      (b) => (b.statements[0].predicate.inclusionProof.hashes[0] = 'd'.repeat(64)),
    ],
    ['statement inclusion proof shortened', (b) => b.statements[1].predicate.inclusionProof.hashes.pop()],
    ['statement leaf index edited', (b) => (b.statements[0].predicate.inclusionProof.leafIndex += 1)],
    ['statement output digest edited', (b) => (b.statements[0].subject[0].digest.sha256 = 'e'.repeat(64))],
    ['statement removed', (b) => b.statements.pop()],
    ['previousHead consistency proof edited', (b) => (b.previousHead.consistencyProof[0] = '1'.repeat(64))],
    ['previousHead consistency proof emptied', (b) => (b.previousHead.consistencyProof = [])],
    ['previousHead tree size edited', (b) => (b.previousHead.treeHead.treeSize += 1)],
    ['session renamed', (b) => (b.session.name = 'other')],
    ['unknown member added', (b) => (b.extra = 1)],
    ['record seq as a string', (b) => (b.records[1].seq = '2')],
    ['tree head timestamp negative', (b) => (b.treeHead.timestamp = -1)],
    ['statement with two subjects', (b) => b.statements[0].subject.push(b.statements[0].subject[0])],
  ];

  it.each(tamperings)('agrees with the server: %s', async (_name, tamper) => {
    const tampered = edit(tamper);
    const server = serverVerify(tampered);
    const browser = await browserVerify(tampered);
    expect(server.ok).toBe(false);
    expect(browser.ok).toBe(false);
    // Same problems, same codes, same places (shape messages are worded by zod on the server).
    const codes = (v: { problems: { code: string; where: string }[] }) =>
      v.problems.map((p) => `${p.code} ${p.where}`);
    expect(codes(browser)).toEqual(codes(server));
  });

  it('refuses text that is not the canonical file form, and text that is not JSON', async () => {
    const reindented = `${JSON.stringify(JSON.parse(text), null, 1)}\n`;
    expect(serverVerify(reindented).ok).toBe(false);
    expect((await browserVerify(reindented)).problems).toEqual(serverVerify(reindented).problems);
    expect((await browserVerify(text.slice(0, 100))).ok).toBe(false);
    expect((await browserVerify('null')).ok).toBe(false);
  });

  it('verifies incremental bundles (since an earlier export) and their tampering, as the server does', async () => {
    const size = JSON.parse(text).treeHead.treeSize;
    await call('POST', '/sessions/audit/execute?wait=5000', operator, { agent: 'echo', input: { more: 1 } });
    const res = await call('POST', '/artifacts/export', viewer, { session: 'audit', since: size - 3 });
    expect(res.statusCode).toBe(200);
    const inc = res.body;
    expect(JSON.parse(inc).since.treeSize).toBe(size - 3);
    expect(serverVerify(inc).ok).toBe(true);
    expect(await browserVerify(inc)).toMatchObject({ ok: true, since: size - 3, problems: [] });
    const tamper = async (f: (b: Json) => void) => {
      const b = JSON.parse(inc);
      f(b);
      const t = serializeBundle(b);
      const [server, browser] = [serverVerify(t), await browserVerify(t)];
      expect(server.ok).toBe(false);
      expect(browser.problems.map((p) => p.where)).toEqual(server.problems.map((p) => p.where));
    };
    await tamper((b) => (b.since.frontier[0] = '2'.repeat(64)));
    await tamper((b) => b.since.frontier.pop());
    await tamper((b) => (b.since.lastRecordHash = '3'.repeat(64)));
    await tamper((b) => (b.records[1].at += 1));
    await tamper((b) => (b.since.treeSize = b.treeHead.treeSize + 1));
  });

  it('agrees with the server on random single-field edits of records', async () => {
    const b = JSON.parse(text);
    // Every leaf of every record, as a path of keys.
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, path: (string | number)[]) => {
      if (v !== null && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) walk(x, [...path, Array.isArray(v) ? Number(k) : k]);
      else paths.push(path);
    };
    b.records.forEach((r: Json, i: number) => walk(r, ['records', i]));
    const replacement = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined), // deletes the field
      fc.jsonValue({ maxDepth: 2 }),
    );
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat(paths.length - 1), replacement, async (at, value) => {
        const path = paths[at]!;
        const copy = JSON.parse(text);
        let parent = copy;
        for (const k of path.slice(0, -1)) parent = parent[k];
        const last = path[path.length - 1]!;
        if (value === undefined) delete parent[last];
        else parent[last] = value;
        let tampered: string;
        try {
          tampered = serializeBundle(copy);
        } catch {
          return; // no JSON form (cannot be a file)
        }
        const server = serverVerify(tampered);
        const browser = await browserVerify(tampered);
        if (!server.ok) rejected++;
        if (!server.ok) expect(browser.ok).toBe(false);
        expect(browser.ok).toBe(server.ok);
      }),
      { numRuns: 150 },
    );
    expect(rejected).toBeGreaterThan(100);
  });
});
