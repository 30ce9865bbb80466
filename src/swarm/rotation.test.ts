import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalBytes } from './canonical.js';
import { toBase64Url } from './bytes.js';
import {
  expectCode,
  expectCodeAsync,
  makeSwarm,
  seededRandom,
  SWARM,
  type TestSwarm,
} from './fixtures/harness.js';
import { NodeIdentity } from './identity.js';
import { loadIdentity, saveIdentity } from './identity-file.js';
import { signReceipt, verifyReceipt, digestBytes } from './receipt.js';
import { createInvite, createRegistration } from './registration.js';
import { createRotation, ROTATION_PURPOSE, type SignedRotation } from './rotation.js';
import { signBytes } from './signature.js';
import { SwarmChannel } from './swarm-channel.js';
import { TrustRegistry } from './trust-registry.js';
import { JsonFileTrustStore } from './trust-store.js';

const dir = await mkdtemp(join(tmpdir(), 'warden-rotation-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const payload = Buffer.from('{"task":"summarise"}');
const receiptFields = {
  agent: 'summarise@1.0.0',
  moduleDigest: digestBytes('module'),
  inputDigest: digestBytes('in'),
  outputDigest: digestBytes('out'),
  startedAt: 1,
  finishedAt: 2,
};

/** What an attacker who stole only Alice's Ed25519 seed can build: her node id, their other keys. */
function edOnlyThief(s: TestSwarm): NodeIdentity {
  const thief = NodeIdentity.fromSecrets({
    ed25519Seed: s.alice.exportSecrets().ed25519Seed,
    x25519Key: seededRandom('thief-x25519')(32),
  });
  expect(thief.nodeId).toBe(s.alice.nodeId);
  return thief;
}

/** Asserts the registry still holds exactly Alice's original keys. */
function expectKeysUnchanged(s: TestSwarm, alice = s.alice): void {
  const node = s.registry.resolve(alice.nodeId);
  expect(node.body.signingKey).toBe(alice.publicKeys.signingKey);
  expect(node.body.agreementKey).toBe(alice.publicKeys.agreementKey);
  expect(node.body.pqKey).toBe(alice.publicKeys.pqKey);
}

describe('re-registration of a known hybrid node', () => {
  it('refuses a downgrade to Ed25519 only by someone holding just the Ed25519 key', async () => {
    const s = await makeSwarm({ postQuantum: true });
    const thief = edOnlyThief(s);
    s.clock.advance(1000);
    await expectCodeAsync(
      s.registry.register(createRegistration(thief, { swarmId: SWARM, clock: s.clock })),
      'SWARM_DOWNGRADE',
    );
    expectKeysUnchanged(s);
    // The thief's Ed25519-only receipts do not verify against the hybrid registration.
    expectCode(
      () => verifyReceipt(s.registry, signReceipt(thief, SWARM, receiptFields)),
      'SWARM_BAD_SIGNATURE',
    );
    // Envelopes to Alice still use her X25519 key: the thief cannot open them, Alice can.
    const thiefChannel = new SwarmChannel({ identity: thief, registry: s.registry, clock: s.clock });
    s.clock.advance(1); // past the new channel's start fence
    const sealed = s.bobChannel.seal({ node: s.alice.nodeId }, payload);
    expectCode(() => thiefChannel.open(sealed), 'SWARM_DECRYPT_FAILED');
    expect(s.aliceChannel.open(sealed).payload).toEqual(payload);
  });

  it('refuses an X25519 swap, whether signed with the Ed25519 key alone or with every current key', async () => {
    const s = await makeSwarm({ postQuantum: true });
    s.clock.advance(1000);
    // Keeping the ML-DSA public key needs an ML-DSA signature the thief cannot make.
    const thief = edOnlyThief(s);
    const forged = createRegistration(thief, { swarmId: SWARM, clock: s.clock });
    const withPq = { ...forged.body, pqKey: s.alice.publicKeys.pqKey };
    await expectCodeAsync(
      s.registry.register({ body: withPq, signature: forged.signature }),
      'SWARM_BAD_SIGNATURE',
    );
    // Even the key owner changes keys only through a signed rotation, never by re-registering.
    const swapped = NodeIdentity.fromSecrets({
      ...s.alice.exportSecrets(),
      x25519Key: seededRandom('alice-new-x25519')(32),
    });
    await expectCodeAsync(
      s.registry.register(createRegistration(swapped, { swarmId: SWARM, clock: s.clock })),
      'SWARM_KEY_MISMATCH',
    );
    expectKeysUnchanged(s);
  });

  it('still lets the node update its capabilities with its current keys', async () => {
    const s = await makeSwarm({ postQuantum: true });
    s.clock.advance(1000);
    const reg = createRegistration(s.alice, {
      swarmId: SWARM,
      capabilities: ['exec', 'gpu'],
      clock: s.clock,
    });
    await s.registry.register(reg);
    expect(s.registry.resolve(s.alice.nodeId).capabilities).toEqual(['exec', 'gpu']);
  });
});

describe('key rotation', () => {
  it('a rotation signed by every old and every new key replaces the keys; old-key material is refused', async () => {
    const s = await makeSwarm({ postQuantum: true });
    const oldAliceChannel = s.aliceChannel;
    const oldReceipt = signReceipt(s.alice, SWARM, receiptFields);
    s.clock.advance(1000);
    const next = s.alice.rotate({ random: seededRandom('alice-next') });
    expect(next.nodeId).toBe(s.alice.nodeId);
    expect(next.publicKeys.signingKey).not.toBe(s.alice.publicKeys.signingKey);
    const rotated = await s.registry.rotate(
      createRotation(s.alice, next, { swarmId: SWARM, capabilities: ['exec'], clock: s.clock }),
    );
    expect(rotated.nodeId).toBe(s.alice.nodeId);
    expect(rotated.body).toMatchObject({ ...next.publicKeys, nodeId: s.alice.nodeId });
    expect(rotated.rotations).toHaveLength(1);

    // Receipts: the new keys verify, the old ones (even a receipt made before the rotation) do not.
    expect(verifyReceipt(s.registry, signReceipt(next, SWARM, receiptFields)).nodeId).toBe(next.nodeId);
    expectCode(() => verifyReceipt(s.registry, oldReceipt), 'SWARM_BAD_SIGNATURE');
    // Envelopes from Alice's old key are refused; from the new key they open.
    const nextChannel = new SwarmChannel({ identity: next, registry: s.registry, clock: s.clock });
    s.clock.advance(1); // past the new channel's start fence
    expectCode(
      () => s.bobChannel.open(oldAliceChannel.seal({ node: s.bob.nodeId }, payload)),
      'SWARM_BAD_SIGNATURE',
    );
    expect(s.bobChannel.open(nextChannel.seal({ node: s.bob.nodeId }, payload)).sender.nodeId).toBe(
      next.nodeId,
    );
    // Envelopes to Alice now use her new X25519 key.
    const sealedAfter = s.bobChannel.seal({ node: s.alice.nodeId }, payload);
    expectCode(() => oldAliceChannel.open(sealedAfter), 'SWARM_DECRYPT_FAILED');
    expect(nextChannel.open(sealedAfter).payload).toEqual(payload);

    // Capability updates after the rotation are signed with the new keys.
    s.clock.advance(1000);
    await s.registry.register(createRegistration(next, { swarmId: SWARM, capabilities: [], clock: s.clock }));
    expect(s.registry.resolve(next.nodeId).capabilities).toEqual([]);
  });

  it('refuses replays: the old registration and the old rotation after a second rotation', async () => {
    const s = await makeSwarm({ postQuantum: true });
    const genesis = s.registry.resolve(s.alice.nodeId).registration;
    // A second registry in the swarm that will miss both rotations while it is offline.
    const late = await TrustRegistry.open({ swarmId: SWARM, allowList: [s.alice.nodeId], clock: s.clock });
    await late.register(genesis);
    s.clock.advance(1000);
    const second = s.alice.rotate({ random: seededRandom('second') });
    const first = createRotation(s.alice, second, { swarmId: SWARM, clock: s.clock });
    await s.registry.rotate(first);
    await expectCodeAsync(s.registry.register(genesis), 'SWARM_STALE');
    // A fresh registration with the retired keys is no better than a replay.
    await expectCodeAsync(
      s.registry.register(createRegistration(s.alice, { swarmId: SWARM, clock: s.clock })),
      'SWARM_STALE',
    );
    s.clock.advance(1000);
    await expectCodeAsync(
      s.registry.register(createRegistration(s.alice, { swarmId: SWARM, clock: s.clock })),
      'SWARM_KEY_MISMATCH',
    );
    const third = second.rotate({ random: seededRandom('third') });
    const latest = createRotation(second, third, { swarmId: SWARM, clock: s.clock });
    await s.registry.rotate(latest);
    await expectCodeAsync(s.registry.rotate(first), 'SWARM_KEY_MISMATCH');
    expect(s.registry.resolve(s.alice.nodeId).body.signingKey).toBe(third.publicKeys.signingKey);

    // A registry that missed both rotations catches up, in order, however old they are.
    s.clock.advance(3_600_000);
    await expectCodeAsync(late.rotate(latest), 'SWARM_KEY_MISMATCH');
    await late.rotate(first);
    await late.rotate(latest);
    expect(late.resolve(s.alice.nodeId).body.signingKey).toBe(third.publicKeys.signingKey);
  });

  it('refuses a rotation signed by only some of the keys', async () => {
    const s = await makeSwarm({ postQuantum: true });
    s.clock.advance(1000);
    const next = s.alice.rotate({ random: seededRandom('alice-next') });
    const good = createRotation(s.alice, next, { swarmId: SWARM, clock: s.clock });
    const resign = (signer: NodeIdentity, role: 'previous' | 'next', classical: boolean): SignedRotation => ({
      ...good,
      signatures: {
        ...good.signatures,
        [role]: toBase64Url(
          signBytes(
            classical ? { ed25519: signer.signingKeys().ed25519 } : signer.signingKeys(),
            `${ROTATION_PURPOSE}/${role}`,
            canonicalBytes(good.body),
          ),
        ),
      },
    });
    // The thief's case: the old Ed25519 key without the old ML-DSA key.
    await expectCodeAsync(s.registry.rotate(resign(s.alice, 'previous', true)), 'SWARM_BAD_SIGNATURE');
    // New keys that did not all sign: Ed25519 only, or the old keys standing in for the new ones.
    await expectCodeAsync(s.registry.rotate(resign(next, 'next', true)), 'SWARM_BAD_SIGNATURE');
    await expectCodeAsync(s.registry.rotate(resign(s.alice, 'next', false)), 'SWARM_BAD_SIGNATURE');
    // A signature made for one role does not count for the other.
    await expectCodeAsync(
      s.registry.rotate({
        ...good,
        signatures: { previous: good.signatures.next, next: good.signatures.previous },
      }),
      'SWARM_BAD_SIGNATURE',
    );
    // Nor does a rotation whose new registration was not signed by the new keys.
    const unsigned = createRegistration(s.alice, { swarmId: SWARM, clock: s.clock });
    await expectCodeAsync(
      s.registry.rotate({
        ...good,
        body: { ...good.body, registration: { ...good.body.registration, signature: unsigned.signature } },
      }),
      'SWARM_BAD_SIGNATURE',
    );
    expectKeysUnchanged(s);
    await s.registry.rotate(good);
  });

  it('a hybrid node cannot rotate to Ed25519 only; a classical node can rotate to hybrid', async () => {
    const s = await makeSwarm({ postQuantum: true });
    s.clock.advance(1000);
    expectCode(() => s.alice.rotate({ postQuantum: false }), 'SWARM_DOWNGRADE');
    const classical = NodeIdentity.fromSecrets(
      { ed25519Seed: seededRandom('cl-ed')(32), x25519Key: seededRandom('cl-x')(32) },
      undefined,
      s.alice.nodeId,
    );
    await expectCodeAsync(
      s.registry.rotate(createRotation(s.alice, classical, { swarmId: SWARM, clock: s.clock })),
      'SWARM_DOWNGRADE',
    );
    expectKeysUnchanged(s);

    const c = await makeSwarm({ postQuantum: false });
    c.clock.advance(1000);
    const upgraded = c.alice.rotate({ random: seededRandom('up') });
    await c.registry.rotate(createRotation(c.alice, upgraded, { swarmId: SWARM, clock: c.clock }));
    expect(c.registry.resolve(c.alice.nodeId).keys.mldsa65).toBeDefined();
  });

  it('refuses rotations for unknown or revoked nodes, other swarms, and old or future dates', async () => {
    const s = await makeSwarm({ postQuantum: true });
    const current = s.registry.resolve(s.alice.nodeId).body;
    s.clock.advance(1000);
    const next = s.alice.rotate({ random: seededRandom('n') });
    await expectCodeAsync(
      s.registry.rotate(createRotation(s.alice, next, { swarmId: 'other', clock: s.clock })),
      'SWARM_NOT_ADMITTED',
    );
    await expectCodeAsync(
      s.registry.rotate(
        createRotation(s.alice, next, { swarmId: SWARM, clock: { now: () => s.clock.now() + 60_001 } }),
      ),
      'SWARM_FUTURE',
    );
    await expectCodeAsync(
      s.registry.rotate(
        createRotation(s.alice, next, { swarmId: SWARM, clock: { now: () => current.issuedAt } }),
      ),
      'SWARM_STALE', // not newer than the current registration
    );
    const stranger = NodeIdentity.generate({ random: seededRandom('stranger') });
    await expectCodeAsync(
      s.registry.rotate(createRotation(stranger, stranger.rotate(), { swarmId: SWARM, clock: s.clock })),
      'SWARM_UNKNOWN_SENDER',
    );
    expect(() => createRotation(s.alice, s.bob, { swarmId: SWARM, clock: s.clock })).toThrow(/rotate\(\)/);
    await s.registry.revoke(s.alice.nodeId);
    await expectCodeAsync(
      s.registry.rotate(createRotation(s.alice, next, { swarmId: SWARM, clock: s.clock })),
      'SWARM_REVOKED',
    );
  });

  it('keeps the invite capability ceiling on re-registration and rotation', async () => {
    const s = await makeSwarm({ postQuantum: true });
    const admin = NodeIdentity.generate({ random: seededRandom('admin') });
    const carol = NodeIdentity.generate({ random: seededRandom('carol') });
    const registry = await TrustRegistry.open({ swarmId: SWARM, admins: [admin.publicKeys], clock: s.clock });
    const invite = createInvite(admin, {
      swarmId: SWARM,
      nodeId: carol.nodeId,
      capabilities: ['cpu'],
      clock: s.clock,
    });
    await registry.register(
      createRegistration(carol, { swarmId: SWARM, capabilities: ['cpu'], clock: s.clock }),
      invite,
    );
    s.clock.advance(1000);
    await expectCodeAsync(
      registry.register(
        createRegistration(carol, { swarmId: SWARM, capabilities: ['cpu', 'root'], clock: s.clock }),
      ),
      'SWARM_NOT_ADMITTED',
    );
    await expectCodeAsync(
      registry.rotate(
        createRotation(carol, carol.rotate(), { swarmId: SWARM, capabilities: ['root'], clock: s.clock }),
      ),
      'SWARM_NOT_ADMITTED',
    );
    expect(registry.resolve(carol.nodeId).capabilities).toEqual(['cpu']);
  });

  it('survives a restart: the stored chain is re-verified and the current keys stay current', async () => {
    const s = await makeSwarm({ postQuantum: true });
    const path = join(dir, 'trust.json');
    const open = () =>
      TrustRegistry.open({
        swarmId: SWARM,
        allowList: [s.alice.nodeId],
        clock: s.clock,
        store: new JsonFileTrustStore(path),
      });
    const registry = await open();
    await registry.register(createRegistration(s.alice, { swarmId: SWARM, clock: s.clock }));
    s.clock.advance(1000);
    const second = s.alice.rotate({ random: seededRandom('second') });
    await registry.rotate(createRotation(s.alice, second, { swarmId: SWARM, clock: s.clock }));
    s.clock.advance(1000);
    const third = second.rotate({ random: seededRandom('third') });
    await registry.rotate(
      createRotation(second, third, { swarmId: SWARM, capabilities: ['exec'], clock: s.clock }),
    );
    s.clock.advance(1000);
    await registry.register(
      createRegistration(third, { swarmId: SWARM, capabilities: ['x'], clock: s.clock }),
    );

    const reopened = await open();
    const node = reopened.resolve(s.alice.nodeId);
    expect(node.body).toMatchObject({ ...third.publicKeys, capabilities: ['x'] });
    expect(node.rotations).toHaveLength(2);
    expect(verifyReceipt(reopened, signReceipt(third, SWARM, receiptFields)).nodeId).toBe(s.alice.nodeId);
    expectCode(
      () => verifyReceipt(reopened, signReceipt(second, SWARM, receiptFields)),
      'SWARM_BAD_SIGNATURE',
    );

    // The rotated identity keeps its node id through an identity file.
    const file = join(dir, 'alice.identity.json');
    await saveIdentity(file, third);
    const loaded = await loadIdentity(file);
    expect(loaded.nodeId).toBe(s.alice.nodeId);
    expect(loaded.publicKeys).toEqual(third.publicKeys);
  });
});
