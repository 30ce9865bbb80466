import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Warden, loadManifest, type WardenOptions } from '../src/index.js';
import { encodeAgentCode } from '../src/store/index.js';
import { sandboxIfAvailable, tempDir } from './helpers.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './scale-out/pg.js';

// Agent code lives in the shared database (issue 13): a worker on another machine (here: another data
// directory, and the registering process's files gone) runs a version registered elsewhere, from the copy
// it materialises under its own data directory, checked against the registered digest.

const pgOk = await requirePostgres('the agent-code-in-PostgreSQL tests');
const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'wasm-wat');

describe.skipIf(!pgOk)('agent code in a shared PostgreSQL database', () => {
  let db: TestDatabase;
  const opened: Warden[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const w of opened) await w.close().catch(() => undefined);
    await db?.drop();
  });

  const open = async (root: string, options: WardenOptions = {}) => {
    const w = await Warden.open({ storage: { root, postgres: db.url }, ...options });
    opened.push(w);
    return w;
  };
  const sql = async (text: string, values: unknown[] = []) => {
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(text, values)).rows as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  };
  /** A copy of examples/wasm-wat as `version`, in a directory of its own (deleted to play another machine). */
  const wasmAgent = (version: string): { dir: string; yaml: string } => {
    const dir = tempDir();
    cpSync(join(EXAMPLE, 'build'), join(dir, 'build'), { recursive: true });
    const yaml = readFileSync(join(EXAMPLE, 'agent.yaml'), 'utf8').replace(
      'version: 1.0.0',
      `version: ${version}`,
    );
    writeFileSync(join(dir, 'agent.yaml'), yaml);
    return { dir, yaml: join(dir, 'agent.yaml') };
  };

  it('a worker with an empty data directory runs path-registered and uploaded WASM versions from the database', async () => {
    const rootA = tempDir();
    const a = await open(rootA, { workers: false });
    const byPath = wasmAgent('1.0.0');
    const registered = await a.registerAgent({ path: byPath.yaml });
    const manifest = await loadManifest(wasmAgent('2.0.0').yaml);
    const uploaded = await a.registerAgentFiles(
      manifest,
      new Map([
        ['agent.yaml', readFileSync(join(EXAMPLE, 'agent.yaml'))],
        ['build/agent.wasm', readFileSync(join(EXAMPLE, 'build', 'agent.wasm'))],
      ]),
    );
    expect(existsSync(uploaded.manifest.baseDir!)).toBe(true);
    const t1 = await a.submit({ agent: 'wasm-wat@1.0.0', input: { n: 1 } });
    const t2 = await a.submit({ agent: 'wasm-wat@2.0.0', input: { n: 2 } });
    // Another machine: neither the registered path nor A's upload directory exists there.
    rmSync(byPath.dir, { recursive: true, force: true });
    rmSync(join(rootA, 'agents'), { recursive: true, force: true });

    const rootB = tempDir();
    const b = await open(rootB);
    expect(await b.result(t1.id, { timeoutMs: 20_000 })).toMatchObject({
      status: 'succeeded',
      output: { echo: { n: 1 } },
    });
    expect(await b.result(t2.id, { timeoutMs: 20_000 })).toMatchObject({
      status: 'succeeded',
      output: { echo: { n: 2 } },
    });
    // Materialised content-addressed under B's own data directory, readable by the sandbox user.
    const [row] = await sql('SELECT code_digest FROM agent_code_versions WHERE agent_key = $1', [
      registered.key,
    ]);
    const dir = join(rootB, 'agents', `sha256-${String(row!['code_digest'])}`);
    expect(statSync(dir).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'build')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'build', 'agent.wasm')).mode & 0o777).toBe(0o644);
    expect(
      readFileSync(join(dir, 'build', 'agent.wasm')).equals(
        readFileSync(join(EXAMPLE, 'build', 'agent.wasm')),
      ),
    ).toBe(true);
    // The upload's directory has the same name on B as on A: the same content digest.
    expect(existsSync(join(rootB, 'agents', uploaded.manifest.baseDir!.split('/').pop()!))).toBe(true);
    await b.close();
  });

  it('refuses stored code whose digest does not match, and says when code over the size cap is missing here', async () => {
    const rootA = tempDir();
    const a = await open(rootA, { workers: false, agentCode: { maxBytes: 100 } });
    const big = wasmAgent('3.0.0'); // 317 bytes of module: over the 100-byte cap, kept as a path only
    const bigRecord = await a.registerAgent({ path: big.yaml });
    expect(await sql('SELECT 1 FROM agent_code_versions WHERE agent_key = $1', [bigRecord.key])).toHaveLength(
      0,
    );
    await a.close();
    const a2 = await open(rootA, { workers: false });
    const tampered = wasmAgent('4.0.0');
    const record = await a2.registerAgent({ path: tampered.yaml });
    const [row] = await sql('SELECT code_digest FROM agent_code_versions WHERE agent_key = $1', [record.key]);
    const wasm = readFileSync(join(EXAMPLE, 'build', 'agent.wasm'));
    const changed = Buffer.from(wasm);
    changed[changed.length - 1] = changed[changed.length - 1]! ^ 1;
    const forged = encodeAgentCode([
      { path: 'agent.yaml', bytes: readFileSync(tampered.yaml) },
      { path: 'build/agent.wasm', bytes: changed },
    ]);
    await sql('UPDATE agent_code SET archive = $1 WHERE digest = $2', [forged, row!['code_digest']]);
    const tBig = await a2.submit({ agent: 'wasm-wat@3.0.0', input: { big: true } });
    const tForged = await a2.submit({ agent: 'wasm-wat@4.0.0', input: { forged: true } });
    rmSync(big.dir, { recursive: true, force: true });
    rmSync(tampered.dir, { recursive: true, force: true });

    const b = await open(tempDir());
    const forgedResult = await b.result(tForged.id, { timeoutMs: 20_000 });
    expect(forgedResult?.status).not.toBe('succeeded');
    expect(forgedResult?.error?.code).toBe('AGENT_VERSION_CONFLICT');
    expect(forgedResult?.error?.message).toMatch(/changed outside Warden/);
    const bigResult = await b.result(tBig.id, { timeoutMs: 20_000 });
    expect(bigResult?.status).not.toBe('succeeded');
    expect(bigResult?.error?.code).toBe('AGENT_CODE_UNAVAILABLE');
    expect(bigResult?.error?.message).toMatch(/same path on every worker/);
    await b.close();
  });

  it('code edited in place under a registered version is refused here too, not replaced by the stored copy', async () => {
    const w = await open(tempDir());
    const agent = wasmAgent('5.0.0');
    await w.registerAgent({ path: agent.yaml });
    const wasmPath = join(agent.dir, 'build', 'agent.wasm');
    const edited = readFileSync(wasmPath);
    edited[edited.length - 1] = edited[edited.length - 1]! ^ 1;
    writeFileSync(wasmPath, edited);
    const t = await w.submit({ agent: 'wasm-wat@5.0.0', input: {} });
    const result = await w.result(t.id, { timeoutMs: 20_000 });
    expect(result?.status).not.toBe('succeeded');
    expect(result?.error?.code).toBe('AGENT_VERSION_CONFLICT');
    expect(result?.error?.message).toMatch(/bump metadata\.version/);
    await w.close();
  });

  it('stores the files under the agent.yaml, never the data directory inside it (its node key)', async () => {
    const agent = wasmAgent('5.0.0');
    const a = await open(join(agent.dir, 'data'), { workers: false });
    const record = await a.registerAgent({ path: agent.yaml });
    expect(readdirSync(join(agent.dir, 'data')).length).toBeGreaterThan(0); // the node key
    const digest = await a.store.agentCodeFor({ agentKey: record.key, moduleDigest: record.moduleDigest! });
    const files = await a.store.getAgentCode(digest!);
    expect(files?.map((f) => f.path).sort()).toEqual(['agent.yaml', 'build/agent.wasm']);
    await a.close();
  });

  it('a node agent uploaded with a helper module runs on a worker with an empty data directory', async () => {
    const rootA = tempDir();
    const a = await open(rootA, { workers: false });
    const manifest = await loadManifest(join(import.meta.dirname, '..', 'examples', 'echo', 'agent.yaml'));
    await a.registerAgentFiles(
      { ...manifest, name: 'echo-upload', entry: './index.mjs' },
      new Map([
        [
          'index.mjs',
          Buffer.from(
            "import { shout } from './lib/shout.mjs';\nlet raw = '';\nprocess.stdin.on('data', (c) => (raw += c));\nprocess.stdin.on('end', () => process.stdout.write(JSON.stringify({ said: shout(JSON.parse(raw).text) })));\n",
          ),
        ],
        ['lib/shout.mjs', Buffer.from('export const shout = (s) => s.toUpperCase() + "!";\n')],
      ]),
    );
    const t = await a.submit({ agent: 'echo-upload', input: { text: 'hello' } });
    rmSync(join(rootA, 'agents'), { recursive: true, force: true });
    const b = await open(tempDir(), { sandbox: sandboxIfAvailable() });
    expect(await b.result(t.id, { timeoutMs: 30_000 })).toMatchObject({
      status: 'succeeded',
      output: { said: 'HELLO!' },
    });
    await b.close();
  });
});
