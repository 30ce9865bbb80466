import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../core/index.js';
import { canonicalRecordJson, chainRecord, type ProvenanceRecord } from './chain.js';

const types = [
  'task.submitted',
  'task.started',
  'task.succeeded',
  'task.attempt_failed',
  'session.created',
] as const;

const recordArb: fc.Arbitrary<ProvenanceRecord> = fc.record(
  {
    type: fc.constantFrom(...types),
    at: fc.integer({ min: 0, max: 2 ** 45 }),
    taskId: fc.string(),
    attempt: fc.nat(),
    agent: fc.string(),
    data: fc.dictionary(fc.string(), fc.jsonValue()),
    sessionId: fc.string(),
    seq: fc.nat(),
    prevHash: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 }),
  },
  { requiredKeys: ['type', 'at', 'sessionId', 'seq', 'prevHash'] },
);

describe('canonicalRecordJson', () => {
  it('is byte-for-byte the generic RFC 8785 canonical JSON of the record', () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        expect(canonicalRecordJson(record)).toBe(canonicalJson(record));
      }),
      { numRuns: 1000 },
    );
  });

  it('links each record to the hash of the one before', () => {
    const first = chainRecord('s', null, { type: 'session.created', at: 1 });
    const second = chainRecord(
      's',
      { seq: 1, hash: first.hash },
      { type: 'task.submitted', at: 2, taskId: 't' },
    );
    expect(first.record.seq).toBe(1);
    expect(second.record).toMatchObject({ seq: 2, prevHash: first.hash });
    expect(second.hash).not.toBe(first.hash);
  });
});
