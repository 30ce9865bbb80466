import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digestBytes, signReceipt, verifyReceipt } from './receipt.js';
import { makeSwarm, SWARM, T0 } from './fixtures/harness.js';

const swarm = await makeSwarm({ replay: { windowSize: 4096 } });

describe('property round-trips (fast-check)', () => {
  it('any payload and type sealed to a node or topic opens to the same bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.option(fc.string({ minLength: 1, maxLength: 32 }), { nil: undefined }),
        (payload, type, topic) => {
          const to = topic === undefined ? { node: swarm.bob.nodeId } : { topic };
          const sealed = swarm.aliceChannel.seal(to, payload, type);
          const opened = swarm.bobChannel.open(sealed);
          expect(Buffer.from(opened.payload).equals(Buffer.from(payload))).toBe(true);
          expect(opened.header.type).toBe(type);
          expect(opened.header.topic).toBe(topic);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('any receipt signed by a registered node verifies to the same body after JSON transport', () => {
    const digest = fc.uint8Array({ maxLength: 64 }).map((b) => digestBytes(b));
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/),
        fc.stringMatching(/^\d{1,3}\.\d{1,3}\.\d{1,3}$/),
        digest,
        digest,
        digest,
        fc.nat({ max: 10 ** 9 }),
        fc.nat({ max: 10 ** 7 }),
        (name, version, moduleDigest, inputDigest, outputDigest, offset, duration) => {
          const receipt = signReceipt(swarm.alice, SWARM, {
            agent: `${name}@${version}`,
            moduleDigest,
            inputDigest,
            outputDigest,
            startedAt: T0 + offset,
            finishedAt: T0 + offset + duration,
          });
          expect(verifyReceipt(swarm.registry, JSON.parse(JSON.stringify(receipt)))).toEqual(receipt.body);
        },
      ),
      { numRuns: 100 },
    );
  });
});
