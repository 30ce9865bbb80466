import canonicalizeImport from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import rfc from './fixtures/rfc8785.json' with { type: 'json' };
import { canonicalBytes, canonicalText } from './canonical.js';
import { encodeHeader, type EnvelopeHeader } from './envelope-format.js';
import { expectCode } from './fixtures/harness.js';

const canonicalize = canonicalizeImport as unknown as (value: unknown) => string | undefined;

describe('RFC 8785 JCS (fixture from the RFC text)', () => {
  it.each(rfc.cases.map((c) => [c.section, c] as const))('example %s', (_section, c) => {
    expect(canonicalText(JSON.parse(c.input))).toBe(c.expected);
    expect(canonicalBytes(JSON.parse(c.input)).equals(Buffer.from(c.expected, 'utf8'))).toBe(true);
  });

  it.each(rfc.numbers.map((n) => [n.ieee, n.expected] as const))(
    'Appendix B number %s → %s',
    (ieee, expected) => {
      const value = Buffer.from(ieee, 'hex').readDoubleBE(0);
      expect(canonicalText(value)).toBe(expected);
      expect(canonicalText([value])).toBe(`[${expected}]`);
    },
  );

  it.each(rfc.numberErrors.map((n) => [n.ieee, n.value] as const))(
    'Appendix B %s (%s) is an error',
    (ieee) => {
      expectCode(() => canonicalText(Buffer.from(ieee, 'hex').readDoubleBE(0)), 'SWARM_BAD_ENCODING');
    },
  );

  it('rejects lone surrogates (I-JSON) and values with no JSON form', () => {
    expectCode(() => canonicalText({ s: '\ud800' }), 'SWARM_BAD_ENCODING');
    expectCode(() => canonicalText(undefined), 'SWARM_BAD_ENCODING');
  });

  it('is idempotent on arbitrary JSON and ignores key insertion order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const once = canonicalText(value);
        expect(canonicalText(JSON.parse(once))).toBe(once);
      }),
      { numRuns: 200 },
    );
    expect(canonicalText({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
  });
});

describe('hand-written envelope header encoder', () => {
  const header = fc.record(
    {
      v: fc.constant(1 as const),
      swarm: fc.string({ minLength: 1, maxLength: 20 }),
      from: fc.constant('wn1_' + 'a'.repeat(40)),
      to: fc.constant('wn1_' + 'b'.repeat(40)),
      ctr: fc.maxSafeNat(),
      nonce: fc.constant('AAAAAAAAAAAAAAAA'),
      ts: fc.maxSafeNat(),
      type: fc.string({ minLength: 1, maxLength: 40 }),
    },
    { requiredKeys: ['v', 'swarm', 'from', 'ctr', 'nonce', 'ts', 'type'] },
  );
  it('equals canonicalize() output for node and topic headers', () => {
    fc.assert(
      fc.property(
        header,
        fc.option(fc.string({ minLength: 1, maxLength: 30 }), { nil: undefined }),
        (h, topic) => {
          const full: EnvelopeHeader =
            topic === undefined
              ? { ...h, to: h.to ?? 'wn1_' + 'c'.repeat(40) }
              : { ...h, to: undefined, topic };
          if (topic !== undefined) delete full.to;
          expect(encodeHeader(full)).toBe(canonicalize(full));
        },
      ),
      { numRuns: 300 },
    );
  });
});
