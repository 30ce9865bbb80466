import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortKeys, taskResultStatement } from './bundle.js';
import { canonicalRecordJson, chainRecord, type ProvenanceRecord } from './chain.js';
import { MerkleTree } from './merkle.js';

describe('bundle text', () => {
  // The streamed export writes records as JSON.stringify(JSON.parse(stored canonical JSON)) without
  // sortKeys; serializeBundle sorts. They must be the same bytes, integer-like keys and "__proto__" included.
  it('a record parsed from its canonical JSON pretty-prints exactly as its sorted copy', () => {
    const key = fc.oneof(fc.string(), fc.constantFrom('10', '9', '0', '__proto__', 'a', 'B', '\u00e9'));
    fc.assert(
      fc.property(fc.dictionary(key, fc.jsonValue()), fc.jsonValue(), (data, nested) => {
        const record: ProvenanceRecord = {
          type: 'trace.provenance',
          at: 1,
          sessionId: 's',
          seq: 2,
          prevHash: '0'.repeat(64),
          data: { ...data, nested },
        };
        const parsed: unknown = JSON.parse(canonicalRecordJson(record));
        expect(JSON.stringify(parsed, null, 2)).toBe(JSON.stringify(sortKeys(parsed), null, 2));
      }),
      { numRuns: 500 },
    );
  });

  it('a statement is built with its keys in sorted order, with or without a model', () => {
    const tree = MerkleTree.fromLeaves(['a', 'b', 'c']);
    const head = {
      sessionId: 's',
      treeSize: 3,
      rootHash: tree.root(),
      timestamp: 1,
      keyId: 'k',
      signature: 'x',
    };
    for (const data of [
      { outputDigest: 'd' },
      { outputDigest: 'd', model: { provider: 'p', model: 'm', promptTokens: 1 } },
    ]) {
      const { record } = chainRecord(
        's',
        { seq: 1, hash: '0'.repeat(64) },
        { type: 'task.succeeded', at: 5, taskId: 't', agent: 'a@1', attempt: 1, data },
      );
      const parsed = JSON.parse(canonicalRecordJson(record)) as ProvenanceRecord;
      const s = taskResultStatement(parsed, 'i', tree, head);
      expect(JSON.stringify(s)).toBe(JSON.stringify(sortKeys(s)));
    }
  });
});
