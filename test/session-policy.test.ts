import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, createApiKey } from '../src/api/index.js';
import { Warden } from '../src/index.js';
import { tempDir } from './helpers.js';

// A session's governance policy is resolved when the session is created and stored with it (issue 13):
// every process applies that policy, whatever its own default, and a policy file is read once, by the
// process that creates the session; through the API only admins may name one, inside the policy directory.

const financePolicy = `apiVersion: warden.dev/v1
kind: GovernancePolicy
metadata: { name: finance }
spec:
  extends: strict
  blockAtSeverity: 7
`;

describe('a session stores the policy it was created with', () => {
  it("is applied by every process, whatever that process's default policy", async () => {
    const root = tempDir();
    const strict = await Warden.open({ storage: { root }, workers: false, governance: { policy: 'strict' } });
    const created = await strict.ensureSession({ name: 'audited' });
    expect(created.policy).toBe('strict');
    await strict.close();

    const lenient = await Warden.open({
      storage: { root },
      workers: false,
      governance: { policy: 'permissive' },
    });
    try {
      const session = await lenient.getSession('audited');
      expect(session.policy).toBe('strict');
      const applied = await lenient.governance.policyFor(session);
      expect(applied).toMatchObject({ name: 'strict', autoQuarantine: true, detect: { input: true } });
      // A session this process creates now gets this process's default, also stored.
      const mine = await lenient.ensureSession({ name: 'mine' });
      expect((await lenient.governance.policyFor(mine)).name).toBe('permissive');
    } finally {
      await lenient.close();
    }
  });

  it('reads a policy file once, at creation: the session keeps it after the file is gone', async () => {
    const root = tempDir();
    const file = join(tempDir(), 'finance.yaml');
    writeFileSync(file, financePolicy);
    const warden = await Warden.open({ storage: { root }, workers: false });
    const session = await warden.ensureSession({ name: 'ledger', policy: file });
    expect(session.policy).toBe('finance');
    await warden.close();
    rmSync(file);
    const again = await Warden.open({ storage: { root }, workers: false });
    try {
      const policy = await again.governance.policyFor(await again.getSession('ledger'));
      expect(policy).toMatchObject({ name: 'finance', blockAtSeverity: 7 });
    } finally {
      await again.close();
    }
  });

  it('refuses an unknown policy when the session is created, not at its first task', async () => {
    const warden = await Warden.open({ storage: { root: tempDir() }, workers: false });
    try {
      await expect(warden.ensureSession({ name: 'x', policy: 'nonsense' })).rejects.toMatchObject({
        code: 'INVALID_POLICY',
      });
      await expect(warden.getSession('x')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    } finally {
      await warden.close();
    }
  });
});

describe('POST /sessions with a policy file', () => {
  let warden: Warden;
  let app: FastifyInstance;
  let policyDir: string;
  let outside: string;
  let root: string;
  const keys = {} as Record<'admin' | 'operator', string>;
  beforeAll(async () => {
    // Made here, not with tempDir(): those are removed after each test, and these serve the whole file.
    policyDir = mkdtempSync(join(tmpdir(), 'warden-policies-'));
    outside = mkdtempSync(join(tmpdir(), 'warden-outside-'));
    writeFileSync(join(policyDir, 'finance.yaml'), financePolicy);
    writeFileSync(join(outside, 'secret.yaml'), financePolicy);
    mkdirSync(join(policyDir, 'links'));
    symlinkSync(join(outside, 'secret.yaml'), join(policyDir, 'links', 'secret.yaml'));
    root = mkdtempSync(join(tmpdir(), 'warden-session-policy-'));
    warden = await Warden.open({
      storage: { root },
      workers: false,
      governance: { policyDir },
    });
    app = await buildServer(warden, { logger: false, rateLimit: false });
    for (const role of ['admin', 'operator'] as const)
      keys[role] = (await createApiKey(warden.store, { tenant: 'acme', role, name: role })).key;
  });
  afterAll(async () => {
    await app?.close();
    await warden?.close();
    for (const dir of [policyDir, outside, root]) rmSync(dir, { recursive: true, force: true });
  });
  const create = (who: 'admin' | 'operator', body: Record<string, unknown>) =>
    app.inject({
      method: 'POST',
      url: '/sessions',
      headers: { authorization: `Bearer ${keys[who]}` },
      payload: body,
    });

  it('lets an admin name a file inside the policy directory', async () => {
    const res = await create('admin', { name: 'books', policy: 'finance.yaml' });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ name: 'books', policy: 'finance' });
  });

  it.each([
    ['an operator, even inside the directory', 'operator', 'finance.yaml'],
    ['an absolute path', 'admin', '/etc/passwd'],
    ['a path that climbs out', 'admin', '../../../../etc/hostname.yaml'],
    ['a symlink that leads out', 'admin', 'links/secret.yaml'],
  ] as const)('refuses %s with POLICY_FILE_FORBIDDEN and creates nothing', async (_what, who, policy) => {
    const name = `s-${Math.random().toString(36).slice(2, 8)}`;
    const res = await create(who, { name, policy });
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json()).toMatchObject({ error: { code: 'POLICY_FILE_FORBIDDEN' } });
    expect(await warden.findSession(name, 'acme')).toBeUndefined();
  });

  it('refuses every file when the server has no policy directory', async () => {
    const bare = await Warden.open({ storage: { root: tempDir() }, workers: false });
    const server = await buildServer(bare, { logger: false, rateLimit: false });
    try {
      const { key } = await createApiKey(bare.store, { tenant: 'acme', role: 'admin', name: 'a' });
      const res = await server.inject({
        method: 'POST',
        url: '/sessions',
        headers: { authorization: `Bearer ${key}` },
        payload: { name: 'books', policy: 'finance.yaml' },
      });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ error: { code: 'POLICY_FILE_FORBIDDEN' } });
      expect(res.json().error.message).toContain('WARDEN_POLICY_DIR');
    } finally {
      await server.close();
      await bare.close();
    }
  });

  it('refuses an unknown policy name with INVALID_POLICY', async () => {
    const res = await create('operator', { name: 'typo', policy: 'strcit' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: { code: 'INVALID_POLICY' } });
  });
});
