import { describe, expect, it } from 'vitest';
import { expectCode, makeSwarm, SWARM, T0 } from './fixtures/harness.js';
import { digestBytes, digestJson, signReceipt, verifyReceipt, type ReceiptFields } from './receipt.js';
import { TrustRegistry } from './trust-registry.js';

const fields: ReceiptFields = {
  agent: 'summarise@1.2.0',
  moduleDigest: digestBytes('module bytes'),
  inputDigest: digestJson({ doc: 1 }),
  outputDigest: digestJson({ summary: 'short' }),
  startedAt: T0,
  finishedAt: T0 + 1500,
  taskId: 'task-1',
};

describe('signed task receipts', () => {
  it('are signed by the executing node and verify with the registry (hybrid for PQ nodes)', async () => {
    const s = await makeSwarm({ postQuantum: true });
    const receipt = signReceipt(s.alice, SWARM, fields);
    expect(receipt.body).toMatchObject({ ...fields, nodeId: s.alice.nodeId, kind: 'warden.swarm.receipt' });
    expect(Buffer.from(receipt.signature, 'base64url')[1]).toBe(2);
    expect(verifyReceipt(s.registry, JSON.parse(JSON.stringify(receipt)))).toEqual(receipt.body);
    expect(digestBytes('abc')).toBe(
      'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('reject tampering, impersonation, unknown and revoked nodes, foreign swarms', async () => {
    const s = await makeSwarm();
    const receipt = signReceipt(s.alice, SWARM, fields);
    expectCode(
      () =>
        verifyReceipt(s.registry, {
          ...receipt,
          body: { ...receipt.body, outputDigest: digestJson('forged') },
        }),
      'SWARM_BAD_SIGNATURE',
    );
    expectCode(
      () => verifyReceipt(s.registry, { ...receipt, body: { ...receipt.body, nodeId: s.bob.nodeId } }),
      'SWARM_BAD_SIGNATURE',
    );
    expectCode(
      () => verifyReceipt(s.registry, { ...receipt, body: { ...receipt.body, agent: 'no-version' } }),
      'SWARM_BAD_ENCODING',
    );
    expectCode(() => signReceipt(s.alice, SWARM, { ...fields, finishedAt: T0 - 1 }), 'SWARM_BAD_ENCODING');
    const empty = await TrustRegistry.open({ swarmId: SWARM });
    expectCode(() => verifyReceipt(empty, receipt), 'SWARM_UNKNOWN_SENDER');
    const foreign = await TrustRegistry.open({ swarmId: 'elsewhere' });
    expectCode(() => verifyReceipt(foreign, receipt), 'SWARM_MISDIRECTED');
    await s.registry.revoke(s.alice.nodeId);
    expectCode(() => verifyReceipt(s.registry, receipt), 'SWARM_REVOKED');
  });
});
