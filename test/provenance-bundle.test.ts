import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/index.js';
import { serializeBundle, sha256Hex, verifyBundleText } from '../src/provenance/index.js';
import { openWarden, populatedSession, tempDir } from './helpers.js';

/** One session of 8 tasks (one retried), closed so its tree head is signed. */
const populated = async () => (await populatedSession(7)).root;

let text: string;
beforeAll(async () => {
  const root = await populated();
  const warden = await openWarden({ root, workers: false });
  text = serializeBundle(await warden.exportProvenance('default'));
  await warden.close();
});

describe('export bundles', () => {
  it('verify offline: records, signed head, previous head, one statement per result', () => {
    const v = verifyBundleText(text);
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ ok: true, session: 'default', statements: 8 });
    const b = JSON.parse(text);
    expect(b.records).toHaveLength(b.treeHead.treeSize);
    expect(b.previousHead.treeHead.treeSize).toBeLessThanOrEqual(b.treeHead.treeSize);
    const s = b.statements[0];
    expect(s._type).toBe('https://in-toto.io/Statement/v1');
    const rec = b.records[s.predicate.recordSeq - 1];
    expect(s.subject[0].digest.sha256).toBe(rec.data.outputDigest);
  });

  it('detects any single-byte change anywhere in the bundle', () => {
    fc.assert(
      fc.property(fc.nat({ max: text.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, delta) => {
        const bytes = Buffer.from(text, 'utf8');
        const at = pos % bytes.length;
        bytes[at] = (bytes[at]! + delta) % 256;
        expect(verifyBundleText(bytes.toString('utf8')).ok).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('detects deleting, reordering or truncating records and statements, and names them', () => {
    const b = JSON.parse(text);
    const edit = (f: (x: typeof b) => void) => {
      const copy = JSON.parse(text);
      f(copy);
      return verifyBundleText(serializeBundle(copy));
    };
    fc.assert(
      fc.property(
        fc.nat(),
        fc.nat(),
        fc.constantFrom('delete', 'swap', 'truncate', 'statement'),
        (a, c, op) => {
          const n = b.records.length;
          const v = edit((x) => {
            if (op === 'delete') x.records.splice(a % n, 1);
            if (op === 'truncate') x.records.length = Math.max(0, n - 1 - (a % n));
            if (op === 'swap') {
              const i = a % n;
              const j = (i + 1 + (c % (n - 1))) % n;
              [x.records[i], x.records[j]] = [x.records[j], x.records[i]];
            }
            if (op === 'statement') x.statements.splice(a % x.statements.length, 1);
          });
          expect(v.ok).toBe(false);
          expect(v.problems.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 100 },
    );
    const swapped = edit((x) => ([x.records[3], x.records[4]] = [x.records[4], x.records[3]]));
    expect(swapped.problems.map((p) => p.where)).toContain('records[3] (seq 4)');
    expect(edit((x) => x.records.pop()).problems[0]!.message).toMatch(/removed/);
  });

  it('detects text truncated at any point', () => {
    fc.assert(
      fc.property(fc.nat({ max: text.length - 1 }), (cut) => {
        expect(verifyBundleText(text.slice(0, cut)).ok).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('names a forged statement, a bad proof and a bad signature', () => {
    const b = JSON.parse(text);
    b.statements[1].subject[0].digest.sha256 = sha256Hex('forged');
    b.statements[2].predicate.inclusionProof.hashes[0] = sha256Hex('x');
    b.treeHead.timestamp += 1;
    const v = verifyBundleText(serializeBundle(b));
    const where = v.problems.map((p) => `${p.code} ${p.where}`);
    expect(where).toContain(
      `BUNDLE_INVALID statements[1] (task ${b.statements[1].predicate.taskId}).subject[0].digest.sha256`,
    );
    expect(where).toContain(
      `PROVENANCE_BAD_PROOF statements[2] (task ${b.statements[2].predicate.taskId}).predicate.inclusionProof`,
    );
    expect(where).toContain('PROVENANCE_BAD_SIGNATURE treeHead.signature');
  });

  it('hashes a "__proto__" member injected into a record as data, so the record no longer verifies', () => {
    const b = JSON.parse(text);
    const json = JSON.stringify(b.records[2]);
    // JSON.parse keeps "__proto__" as an own member, and serializeBundle writes it back in canonical form.
    b.records[2] = JSON.parse(`{"__proto__":{"outputDigest":"forged"},${json.slice(1)}`);
    b.records[5].data = JSON.parse(`{"__proto__":null,${JSON.stringify(b.records[5].data ?? {}).slice(1)}`);
    const forged = serializeBundle(b);
    expect(forged).toContain('"__proto__": {');
    const v = verifyBundleText(forged);
    expect(v.ok).toBe(false);
    const where = v.problems.map((p) => p.where);
    expect(where).toContain('records[3] (seq 4)');
    expect(where).toContain('records[6] (seq 7)');
    expect(where).toContain('treeHead.rootHash');
    // A duplicated member: JSON.parse keeps the last, so the file is not the canonical text of what was parsed.
    const at = text.indexOf('"agent": ');
    const duplicated = `${text.slice(0, at)}"agent": "forged@1.0.0",\n      ${text.slice(at)}`;
    expect(verifyBundleText(duplicated).problems[0]!.message).toMatch(/not in canonical form/);
  });

  it('accepts only trusted key ids when asked', () => {
    const b = JSON.parse(text);
    expect(verifyBundleText(text, { trustedKeyIds: [b.publicKey.keyId] }).ok).toBe(true);
    expect(verifyBundleText(text, { trustedKeyIds: ['0'.repeat(64)] }).ok).toBe(false);
  });
});

describe('stored records against the signed tree head', () => {
  function mutate(r: string, sql: string, ...params: unknown[]) {
    const db = new BetterSqlite3(join(r, 'warden.db'));
    db.prepare(sql).run(...params);
    db.close();
  }
  async function verifyStored(r: string) {
    const warden = await openWarden({ root: r, workers: false });
    const v = await warden.verify('default');
    await warden.close();
    return v;
  }

  it('detects any single-byte change of a stored record, even with the whole chain rehashed', async () => {
    const r = await populated();
    const db = new BetterSqlite3(join(r, 'warden.db'));
    const rows = db.prepare('SELECT seq, record FROM provenance ORDER BY seq').all() as {
      seq: number;
      record: string;
    }[];
    db.close();
    const samples = fc.sample(
      fc.tuple(fc.nat({ max: rows.length - 1 }), fc.nat(), fc.integer({ min: 1, max: 94 })),
      16,
    );
    for (const [i, p, d] of samples) {
      const row = rows[i]!;
      const at = p % row.record.length;
      // The rehash below rewrites prevHash, so a change inside that field would be undone: skip it.
      const ph = row.record.indexOf('"prevHash":"');
      if (at >= ph && at < ph + 12 + 64 + 1) continue;
      const c = String.fromCharCode(((row.record.charCodeAt(at) - 32 + d) % 95) + 32);
      const forged = row.record.slice(0, at) + c + row.record.slice(at + 1);
      // Rewrite the chain from this record on so every hash and prev_hash is consistent again.
      const d2 = new BetterSqlite3(join(r, 'warden.db'));
      const all = d2.prepare('SELECT seq, record FROM provenance ORDER BY seq').all() as typeof rows;
      let prev = i === 0 ? '0'.repeat(64) : sha256Hex(all[i - 1]!.record);
      for (const link of all.slice(i)) {
        let rec = link.seq === row.seq ? forged : link.record;
        rec = rec.replace(/"prevHash":"[0-9a-f]{64}"/, `"prevHash":"${prev}"`);
        const hash = sha256Hex(rec);
        d2.prepare('UPDATE provenance SET record = ?, hash = ?, prev_hash = ? WHERE seq = ?').run(
          rec,
          hash,
          prev,
          link.seq,
        );
        prev = hash;
      }
      d2.prepare('UPDATE provenance_heads SET hash = ?').run(prev);
      d2.close();
      const v = await verifyStored(r);
      expect(v.ok, `record ${row.seq} byte ${at}`).toBe(false);
      // Restore for the next sample.
      const d3 = new BetterSqlite3(join(r, 'warden.db'));
      let h = '0'.repeat(64);
      for (const link of rows) {
        d3.prepare('UPDATE provenance SET record = ?, hash = ?, prev_hash = ? WHERE seq = ?').run(
          link.record,
          sha256Hex(link.record),
          h,
          link.seq,
        );
        h = sha256Hex(link.record);
      }
      d3.prepare('UPDATE provenance_heads SET hash = ?').run(h);
      d3.close();
      expect((await verifyStored(r)).ok).toBe(true);
    }
  });

  it('detects a tail truncated together with its chain head', async () => {
    const r = await populated();
    mutate(r, 'DELETE FROM provenance WHERE seq > 20');
    const db = new BetterSqlite3(join(r, 'warden.db'));
    const last = db.prepare('SELECT hash FROM provenance WHERE seq = 20').get() as { hash: string };
    db.prepare('UPDATE provenance_heads SET seq = 20, hash = ?').run(last.hash);
    db.close();
    const v = await verifyStored(r);
    expect(v.ok).toBe(false);
    expect(v.broken).toMatchObject({ seq: 21, reason: expect.stringMatching(/removed/) });
  });

  it('detects deletion and reordering of stored records', async () => {
    const r = await populated();
    mutate(r, 'DELETE FROM provenance WHERE seq = 7');
    expect((await verifyStored(r)).broken?.reason).toMatch(/missing record/);
    const r2 = await populated();
    mutate(r2, 'UPDATE provenance SET seq = -1 WHERE seq = 5');
    mutate(r2, 'UPDATE provenance SET seq = 5 WHERE seq = 6');
    mutate(r2, 'UPDATE provenance SET seq = 6 WHERE seq = -1');
    expect((await verifyStored(r2)).ok).toBe(false);
  });
});

describe('warden export and warden verify <bundle>', () => {
  it('exports with the CLI and verifies offline, naming what is wrong', async () => {
    const data = await populated();
    const out = join(tempDir(), 'bundle.json');
    let printed = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    try {
      expect(
        await main(['node', 'warden', '--data', data, 'export', '--session', 'default', '--out', out]),
      ).toBe(0);
      expect(await main(['node', 'warden', 'verify', out])).toBe(0);
      const b = JSON.parse(readFileSync(out, 'utf8'));
      b.records[2].at += 1;
      writeFileSync(out, serializeBundle(b));
      process.exitCode = undefined;
      expect(await main(['node', 'warden', 'verify', out])).toBe(1);
    } finally {
      process.stdout.write = write;
      process.exitCode = undefined;
    }
    expect(printed).toMatch(/ok {6}.*session default/);
    expect(printed).toMatch(/INVALID .*\n.*records\[3\] \(seq 4\): prevHash/);
  });
});

describe('a bundle whose edit makes a number out of range', () => {
  it('fails verification with BUNDLE_INVALID instead of throwing', async () => {
    const { root } = await populatedSession(2);
    const warden = await openWarden({ root, workers: false });
    const text = serializeBundle(await warden.exportProvenance('default'));
    // A number turned into an exponent: 1e999 parses as Infinity, which has no canonical JSON.
    const edited = text.replace(/"maxConcurrency": \d+/, '"maxConcurrency": 1e999');
    expect(edited).not.toBe(text);
    const result = verifyBundleText(edited);
    expect(result.ok).toBe(false);
    expect(result.problems[0]).toMatchObject({ code: 'BUNDLE_INVALID' });
  });
});
