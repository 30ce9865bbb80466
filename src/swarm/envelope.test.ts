import { describe, expect, it } from 'vitest';
import { parseEnvelope, SIGNATURE_BYTES, TAG_BYTES, type EnvelopeHeader } from './envelope-format.js';
import { expectCode, flipBit, makeSwarm, seededRandom, SWARM, T0 } from './fixtures/harness.js';
import { NodeIdentity } from './identity.js';
import { createRegistration } from './registration.js';
import { deriveSessionKey } from './session-key.js';
import { sealRaw, sealWith, SwarmChannel } from './swarm-channel.js';
import { canonicalText } from './canonical.js';
import { TrustRegistry } from './trust-registry.js';
import { toBase64Url } from './bytes.js';

const payload = Buffer.from('{"task":"summarise","doc":42}');

describe('sealed envelopes', () => {
  it('round-trips to a node and to a topic, with the header as sent', async () => {
    const s = await makeSwarm();
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, payload, 'application/json');
    const opened = s.bobChannel.open(sealed);
    expect(opened.payload.equals(payload)).toBe(true);
    expect(opened.sender.nodeId).toBe(s.alice.nodeId);
    expect(opened.header).toMatchObject({
      v: 1,
      swarm: SWARM,
      from: s.alice.nodeId,
      to: s.bob.nodeId,
      ts: T0,
      type: 'application/json',
    });
    expect(sealed.includes(payload)).toBe(false);

    const topic = s.aliceChannel.seal({ topic: 'tasks' }, payload);
    expect(s.bobChannel.open(topic).header.topic).toBe('tasks');
  });

  it('envelope layout: version, header length, canonical header, ciphertext, tag, signature', async () => {
    const s = await makeSwarm();
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    const parsed = parseEnvelope(sealed);
    expect(sealed[0]).toBe(1);
    expect(sealed.readUInt16BE(1)).toBe(parsed.headerBytes.length);
    expect(parsed.sealed.length).toBe(payload.length + TAG_BYTES);
    expect(parsed.signature.length).toBe(SIGNATURE_BYTES);
  });

  it('the recipient cannot be another node, and another node cannot open it', async () => {
    const s = await makeSwarm();
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    expectCode(() => s.aliceChannel.open(sealed), 'SWARM_MISDIRECTED');
  });
});

describe('every tamper fails with its code', () => {
  it('flipping any single bit anywhere in the envelope is rejected', async () => {
    const s = await makeSwarm();
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, Buffer.from('small payload'));
    const { headerBytes, sealed: ct } = parseEnvelope(sealed);
    const headerEnd = 3 + headerBytes.length;
    const ctEnd = headerEnd + ct.length - TAG_BYTES;
    const seen = new Set<string>();
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      const byte = bit >> 3;
      // Ciphertext, tag and signature are covered by the signature, checked before decryption.
      const expected =
        byte >= headerEnd
          ? 'SWARM_BAD_SIGNATURE'
          : [
              'SWARM_BAD_ENCODING',
              'SWARM_BAD_SIGNATURE',
              'SWARM_UNKNOWN_SENDER',
              'SWARM_MISDIRECTED',
              'SWARM_STALE',
              'SWARM_FUTURE',
            ];
      const err = expectCode(() => s.bobChannel.open(flipBit(sealed, bit)), expected);
      seen.add(
        `${byte < headerEnd ? 'header' : byte < ctEnd ? 'ciphertext' : byte < ctEnd + TAG_BYTES ? 'tag' : 'signature'}:${err.code}`,
      );
    }
    expect(seen).toContain('header:SWARM_BAD_ENCODING');
    expect(seen).toContain('header:SWARM_BAD_SIGNATURE');
    expect(seen).toContain('ciphertext:SWARM_BAD_SIGNATURE');
    expect(seen).toContain('tag:SWARM_BAD_SIGNATURE');
    expect(seen).toContain('signature:SWARM_BAD_SIGNATURE');
    // The untouched envelope still opens: no tamper poisoned the replay window.
    expect(s.bobChannel.open(sealed).payload.toString()).toBe('small payload');
  });

  it('a header field changed consistently (valid JSON, same length) fails the signature', async () => {
    const s = await makeSwarm();
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, payload, 'text/plain');
    const forged = Buffer.from(
      sealed.toString('latin1').replace('"type":"text/plain"', '"type":"text/plaiN"'),
      'latin1',
    );
    expect(forged.equals(sealed)).toBe(false);
    expectCode(() => s.bobChannel.open(forged), 'SWARM_BAD_SIGNATURE');
  });

  it('swapping the sender id to another registered node fails the signature', async () => {
    const s = await makeSwarm();
    const carol = NodeIdentity.generate({ random: seededRandom('carol'), postQuantum: false });
    s.registry.allow(carol.nodeId);
    await s.registry.register(createRegistration(carol, { swarmId: SWARM, clock: s.clock }));
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    const swapped = Buffer.from(sealed.toString('latin1').replace(s.alice.nodeId, carol.nodeId), 'latin1');
    expectCode(() => s.bobChannel.open(swapped), 'SWARM_BAD_SIGNATURE');
  });

  it('replay of an accepted envelope is SWARM_REPLAY', async () => {
    const s = await makeSwarm();
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    s.bobChannel.open(sealed);
    expectCode(() => s.bobChannel.open(sealed), 'SWARM_REPLAY');
  });

  it('a receiver restarted in the same millisecond refuses replays, by its fence and from its saved state', async () => {
    const s = await makeSwarm();
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    // Alice's clock runs 10 s ahead (within maxFutureSkewMs): the fence alone cannot catch this one.
    const ahead = new SwarmChannel({
      identity: s.alice,
      registry: s.registry,
      clock: { now: () => s.clock.now() + 10_000 },
    }).seal({ node: s.bob.nodeId }, payload);
    s.bobChannel.open(sealed);
    s.bobChannel.open(ahead);
    const saved = JSON.stringify(s.bobChannel.replayState());

    const common = { identity: s.bob, registry: s.registry, clock: s.clock, swarmKey: s.swarmKey };
    const blank = new SwarmChannel(common); // crashed before saving anything
    expectCode(() => blank.open(sealed), 'SWARM_STALE');
    const restored = new SwarmChannel({ ...common, replay: { state: JSON.parse(saved) as never } });
    expectCode(() => restored.open(sealed), 'SWARM_STALE');
    expectCode(() => restored.open(ahead), 'SWARM_REPLAY');
  });

  it('out-of-order inside the window opens; behind the window is SWARM_REORDERED', async () => {
    const s = await makeSwarm({ replay: { windowSize: 4 } });
    const first = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    const second = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    const later = Array.from({ length: 5 }, () => s.aliceChannel.seal({ node: s.bob.nodeId }, payload));
    s.bobChannel.open(second);
    s.bobChannel.open(first); // reordered by one: inside the window
    for (const e of later) s.bobChannel.open(e);
    const late = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    const tooLate = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    for (let i = 0; i < 3; i++) s.bobChannel.open(s.aliceChannel.seal({ node: s.bob.nodeId }, payload));
    s.bobChannel.open(tooLate);
    expectCode(() => s.bobChannel.open(late), 'SWARM_REORDERED');
  });

  it('expired timestamps are SWARM_STALE, future ones SWARM_FUTURE', async () => {
    const s = await makeSwarm();
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    s.clock.advance(300_001);
    expectCode(() => s.bobChannel.open(sealed), 'SWARM_STALE');
    s.clock.t = T0 - 30_001;
    expectCode(() => s.bobChannel.open(sealed), 'SWARM_FUTURE');
  });

  it('a revoked sender is rejected at once, even for envelopes sealed before revocation', async () => {
    const s = await makeSwarm();
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    const pending = s.registry.revoke(s.alice.nodeId, 'compromised');
    expectCode(() => s.bobChannel.open(sealed), 'SWARM_REVOKED');
    await pending;
    expectCode(() => s.aliceChannel.seal({ node: s.alice.nodeId }, payload), 'SWARM_REVOKED');
  });

  it('an unregistered key cannot get in by carrying its own key', async () => {
    const s = await makeSwarm();
    const mallory = NodeIdentity.generate({ random: seededRandom('mallory'), postQuantum: false });
    // Mallory's own registry trusts herself and knows Bob's public registration.
    const malloryRegistry = await TrustRegistry.open({
      swarmId: SWARM,
      allowList: [mallory.nodeId, s.bob.nodeId],
      clock: s.clock,
    });
    await malloryRegistry.register(createRegistration(mallory, { swarmId: SWARM, clock: s.clock }));
    await malloryRegistry.register(s.registry.resolve(s.bob.nodeId).registration);
    const malloryChannel = new SwarmChannel({ identity: mallory, registry: malloryRegistry, clock: s.clock });
    const sealed = malloryChannel.seal({ node: s.bob.nodeId }, payload);
    expectCode(() => s.bobChannel.open(sealed), 'SWARM_UNKNOWN_SENDER');

    // Claiming Alice's id while signing with Mallory's key: keys come from the registry, so it fails.
    const bob = s.registry.resolve(s.bob.nodeId);
    const key = deriveSessionKey(
      mallory.agree(bob.agreementKey),
      mallory.agreementPublicKey,
      bob.agreementPublicKey,
      SWARM,
    );
    const nonce = seededRandom('n')(12);
    const header: EnvelopeHeader = {
      v: 1,
      swarm: SWARM,
      from: s.alice.nodeId,
      to: s.bob.nodeId,
      ctr: 1,
      nonce: toBase64Url(nonce),
      ts: T0,
      type: 'x',
    };
    expectCode(
      () => s.bobChannel.open(sealWith(mallory, header, key, nonce, payload)),
      'SWARM_BAD_SIGNATURE',
    );

    // A header that carries a key of its own is not a valid envelope at all.
    const withKey = sealRaw(
      mallory,
      canonicalText({ ...header, from: mallory.nodeId, senderKey: mallory.publicKeys.signingKey }),
      key,
      nonce,
      payload,
    );
    expectCode(() => s.bobChannel.open(withKey), 'SWARM_BAD_ENCODING');
  });

  it('a correctly signed envelope under the wrong key is SWARM_DECRYPT_FAILED', async () => {
    const s = await makeSwarm();
    const nonce = seededRandom('n2')(12);
    const header: EnvelopeHeader = {
      v: 1,
      swarm: SWARM,
      from: s.alice.nodeId,
      to: s.bob.nodeId,
      ctr: 7,
      nonce: toBase64Url(nonce),
      ts: T0,
      type: 'x',
    };
    const sealed = sealWith(s.alice, header, Buffer.alloc(32, 9), nonce, payload);
    expectCode(() => s.bobChannel.open(sealed), 'SWARM_DECRYPT_FAILED');
    // A failed decryption does not burn the counter.
    const good = sealWith(
      s.alice,
      header,
      deriveSessionKey(
        s.alice.agree(s.registry.resolve(s.bob.nodeId).agreementKey),
        s.alice.agreementPublicKey,
        s.bob.agreementPublicKey,
        SWARM,
      ),
      nonce,
      payload,
    );
    expect(s.bobChannel.open(good).payload.equals(payload)).toBe(true);
  });

  it('wrong swarm, topic without a swarm key and truncation are rejected', async () => {
    const s = await makeSwarm();
    const other = await TrustRegistry.open({ swarmId: 'other', allowList: [s.alice.nodeId], clock: s.clock });
    await other.register(createRegistration(s.alice, { swarmId: 'other', clock: s.clock }));
    const foreign = new SwarmChannel({
      identity: s.alice,
      registry: other,
      clock: s.clock,
      swarmKey: s.swarmKey,
    }).seal({ topic: 't' }, payload);
    expectCode(() => s.bobChannel.open(foreign), 'SWARM_MISDIRECTED');
    const keyless = new SwarmChannel({ identity: s.bob, registry: s.registry, clock: s.clock });
    s.clock.advance(1); // past the new channel's start fence
    expectCode(() => keyless.open(s.aliceChannel.seal({ topic: 't' }, payload)), 'SWARM_MISDIRECTED');
    const sealed = s.aliceChannel.seal({ node: s.bob.nodeId }, payload);
    for (const cut of [0, 1, 3, 40, sealed.length - 1])
      expectCode(
        () => s.bobChannel.open(sealed.subarray(0, cut)),
        ['SWARM_BAD_ENCODING', 'SWARM_BAD_SIGNATURE'],
      );
  });
});
