import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectCode, expectCodeAsync, ManualClock, seededRandom, SWARM } from './fixtures/harness.js';
import { NodeIdentity } from './identity.js';
import { createInvite, createRegistration, verifyRegistration } from './registration.js';
import { TrustRegistry } from './trust-registry.js';
import { JsonFileTrustStore } from './trust-store.js';

const clock = new ManualClock();
const admin = NodeIdentity.generate({ random: seededRandom('admin'), postQuantum: true });
const node = NodeIdentity.generate({ random: seededRandom('node'), postQuantum: true });
const classic = NodeIdentity.generate({ random: seededRandom('classic'), postQuantum: false });
const dir = await mkdtemp(join(tmpdir(), 'warden-swarm-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const open = (extra: Partial<Parameters<typeof TrustRegistry.open>[0]> = {}) =>
  TrustRegistry.open({ swarmId: SWARM, admins: [admin.publicKeys], clock, ...extra });

describe('registration documents', () => {
  it('carry node id, both public keys, capabilities and time, with a hybrid self-signature', () => {
    const reg = createRegistration(node, { swarmId: SWARM, capabilities: ['gpu'], clock });
    expect(reg.body).toMatchObject({
      nodeId: node.nodeId,
      capabilities: ['gpu'],
      issuedAt: clock.now(),
      ...node.publicKeys,
    });
    expect(Buffer.from(reg.signature, 'base64url').subarray(0, 2)).toEqual(Buffer.from([1, 2]));
    expect(verifyRegistration(reg).body.nodeId).toBe(node.nodeId);
  });

  it('are rejected when tampered, re-keyed, or stripped to Ed25519 only', () => {
    const reg = createRegistration(node, { swarmId: SWARM, capabilities: ['gpu'], clock });
    expectCode(
      () => verifyRegistration({ ...reg, body: { ...reg.body, capabilities: ['root'] } }),
      'SWARM_BAD_SIGNATURE',
    );
    expectCode(
      () =>
        verifyRegistration({ ...reg, body: { ...reg.body, agreementKey: classic.publicKeys.agreementKey } }),
      'SWARM_BAD_SIGNATURE',
    );
    expectCode(
      () => verifyRegistration({ ...reg, body: { ...reg.body, nodeId: classic.nodeId } }),
      'SWARM_BAD_ENCODING',
    );
    const stripped = Buffer.from(reg.signature, 'base64url').subarray(0, 66);
    stripped[1] = 1;
    expectCode(
      () => verifyRegistration({ ...reg, signature: stripped.toString('base64url') }),
      'SWARM_BAD_SIGNATURE',
    );
    expectCode(() => verifyRegistration({ ...reg, extra: 1 }), 'SWARM_BAD_ENCODING');
  });
});

describe('trust registry admission', () => {
  it('needs an invite or the allow-list', async () => {
    const registry = await open();
    await expectCodeAsync(
      registry.register(createRegistration(node, { swarmId: SWARM, clock })),
      'SWARM_NOT_ADMITTED',
    );
    expectCode(() => registry.resolve(node.nodeId), 'SWARM_UNKNOWN_SENDER');
    registry.allow(classic.nodeId);
    const admitted = await registry.register(createRegistration(classic, { swarmId: SWARM, clock }));
    expect(admitted.admission).toEqual({ by: 'allow-list' });
  });

  it('accepts a valid admin invite and rejects forged, expired, foreign and over-reaching ones', async () => {
    const registry = await open();
    const reg = createRegistration(node, { swarmId: SWARM, capabilities: ['gpu'], clock });
    const forged = createInvite(node, { swarmId: SWARM, nodeId: node.nodeId, clock });
    await expectCodeAsync(registry.register(reg, forged), 'SWARM_NOT_ADMITTED');
    const wrongNode = createInvite(admin, { swarmId: SWARM, nodeId: classic.nodeId, clock });
    await expectCodeAsync(registry.register(reg, wrongNode), 'SWARM_NOT_ADMITTED');
    const narrow = createInvite(admin, { swarmId: SWARM, nodeId: node.nodeId, capabilities: ['cpu'], clock });
    await expectCodeAsync(registry.register(reg, narrow), 'SWARM_NOT_ADMITTED');
    const expired = createInvite(admin, {
      swarmId: SWARM,
      nodeId: node.nodeId,
      ttlMs: 1,
      clock: new ManualClock(clock.now() - 10),
    });
    await expectCodeAsync(registry.register(reg, expired), 'SWARM_NOT_ADMITTED');
    const good = createInvite(admin, { swarmId: SWARM, nodeId: node.nodeId, capabilities: ['gpu'], clock });
    const tampered = { ...good, body: { ...good.body, capabilities: ['gpu', 'root'] } };
    await expectCodeAsync(registry.register(reg, tampered), 'SWARM_BAD_SIGNATURE');
    const entry = await registry.register(reg, good);
    expect(entry.admission.by).toBe('invite');
    expect(registry.resolve(node.nodeId).capabilities).toEqual(['gpu']);
  });

  it('rejects registrations for another swarm, too old or dated in the future', async () => {
    const registry = await open({ allowList: [classic.nodeId] });
    await expectCodeAsync(
      registry.register(createRegistration(classic, { swarmId: 'other', clock })),
      'SWARM_NOT_ADMITTED',
    );
    const old = createRegistration(classic, {
      swarmId: SWARM,
      clock: new ManualClock(clock.now() - 600_001),
    });
    await expectCodeAsync(registry.register(old), 'SWARM_STALE');
    const future = createRegistration(classic, {
      swarmId: SWARM,
      clock: new ManualClock(clock.now() + 60_001),
    });
    await expectCodeAsync(registry.register(future), 'SWARM_FUTURE');
  });

  it('lets an admitted node update its registration, but not roll it back', async () => {
    const registry = await open({ allowList: [classic.nodeId] });
    const first = createRegistration(classic, { swarmId: SWARM, capabilities: ['a'], clock });
    await registry.register(first);
    await registry.register(first); // idempotent
    clock.advance(1000);
    await registry.register(createRegistration(classic, { swarmId: SWARM, capabilities: ['a', 'b'], clock }));
    expect(registry.resolve(classic.nodeId).capabilities).toEqual(['a', 'b']);
    await expectCodeAsync(registry.register(first), 'SWARM_STALE');
  });

  it('revocation is immediate, sticky, and persisted with the JSON file store', async () => {
    const path = join(dir, 'trust.json');
    const registry = await open({ allowList: [classic.nodeId], store: new JsonFileTrustStore(path) });
    await registry.register(createRegistration(classic, { swarmId: SWARM, clock }));
    const invite = createInvite(admin, { swarmId: SWARM, nodeId: node.nodeId, clock });
    await registry.register(createRegistration(node, { swarmId: SWARM, clock }), invite);

    const reopened = await open({ store: new JsonFileTrustStore(path) });
    expect(reopened.resolve(classic.nodeId).admission.by).toBe('allow-list');
    expect(reopened.resolve(node.nodeId).admission.by).toBe('invite');

    const pending = reopened.revoke(node.nodeId, 'lost laptop');
    expectCode(() => reopened.resolve(node.nodeId), 'SWARM_REVOKED');
    await pending;
    await expectCodeAsync(
      reopened.register(createRegistration(node, { swarmId: SWARM, clock }), invite),
      'SWARM_REVOKED',
    );

    const third = await open({ store: new JsonFileTrustStore(path) });
    expectCode(() => third.resolve(node.nodeId), 'SWARM_REVOKED');
    expect(third.has(classic.nodeId)).toBe(true);
  });
});
