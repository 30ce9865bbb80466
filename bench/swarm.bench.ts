// Swarm security layer vs the raw primitives under it. Fixed workloads; one JSON line per figure.
// Run: node --import tsx bench/swarm.bench.ts   (SWARM_BENCH_MS=<ms per sample> to shorten or lengthen)
import { createCipheriv, createDecipheriv, randomBytes, sign, verify } from 'node:crypto';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import {
  createRegistration,
  decodeHybridPublicKey,
  HybridKeyPair,
  NodeIdentity,
  signBytes,
  SwarmChannel,
  TrustRegistry,
  verifyBytes,
  verifyHybrid,
} from '../src/swarm/index.js';

const SAMPLE_MS = Number(process.env.SWARM_BENCH_MS ?? 400);
const ROUNDS = Number(process.env.SWARM_BENCH_ROUNDS ?? 5);

function emit(name: string, value: number, unit: string): void {
  console.log(JSON.stringify({ name, value: Number(value.toFixed(unit === '%' ? 1 : 0)), unit }));
}

/**
 * One sample: ops/s of `op` over about SAMPLE_MS after a short warm-up. With `fixed`, runs exactly
 * that many ops instead (for opens, whose envelopes are built by `prepare` outside the timing).
 */
type Op = (i: number) => void;
interface Workload {
  op: Op;
  prepare?: () => void;
  fixed?: number;
}

function rate({ op, prepare, fixed }: Workload): number {
  prepare?.();
  if (fixed !== undefined) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < fixed; i++) op(i);
    return fixed / (Number(process.hrtime.bigint() - start) / 1e9);
  }
  for (let i = 0; i < 20; i++) op(i);
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(SAMPLE_MS) * 1_000_000n;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let k = 0; k < 8; k++) op(n++);
    elapsed = process.hrtime.bigint() - start;
  }
  return n / (Number(elapsed) / 1e9);
}

const asWorkload = (w: Op | Workload): Workload => (typeof w === 'function' ? { op: w } : w);

/** Interleaves raw and ours for ROUNDS rounds, keeps each side's median, prints both and the overhead. */
function compare(name: string, rawW: Op | Workload, oursW: Op | Workload): { raw: number; ours: number } {
  const r: number[] = [];
  const o: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    r.push(rate(asWorkload(rawW)));
    o.push(rate(asWorkload(oursW)));
  }
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const result = { raw: median(r), ours: median(o) };
  emit(`swarm ${name} raw`, result.raw, 'ops/s');
  emit(`swarm ${name} ours`, result.ours, 'ops/s');
  // Overhead = extra time per operation relative to the raw primitives: raw ops/s ÷ our ops/s − 1.
  emit(`swarm ${name} overhead`, (result.raw / result.ours - 1) * 100, '%');
  return result;
}

// --- Ed25519 -------------------------------------------------------------------------------
const node = NodeIdentity.generate({ postQuantum: false });
const keys = node.signingKeys();
const publicKey = { ed25519: (await import('node:crypto')).createPublicKey(keys.ed25519) };
const msg = randomBytes(256);
const rawSig = sign(null, msg, keys.ed25519);
const ourSig = signBytes(keys, 'bench', msg);
compare(
  'ed25519 sign (256 B)',
  () => sign(null, msg, keys.ed25519),
  () => signBytes(keys, 'bench', msg),
);
compare(
  'ed25519 verify (256 B)',
  () => verify(null, msg, publicKey.ed25519, rawSig),
  () => verifyBytes(publicKey, 'bench', msg, ourSig),
);

// --- Envelopes ---------------------------------------------------------------------------------
const alice = NodeIdentity.generate({ postQuantum: false });
const bob = NodeIdentity.generate({ postQuantum: false });
const registry = await TrustRegistry.open({ swarmId: 'bench', allowList: [alice.nodeId, bob.nodeId] });
await registry.register(createRegistration(alice, { swarmId: 'bench' }));
await registry.register(createRegistration(bob, { swarmId: 'bench' }));
const aliceChannel = new SwarmChannel({ identity: alice, registry });
const bobChannel = new SwarmChannel({ identity: bob, registry, replay: { windowSize: 1 << 16 } });
const aliceKeys = alice.signingKeys();
const aliceVerify = registry.resolve(alice.nodeId).keys.ed25519;
const aesKey = randomBytes(32);
const header = Buffer.from(
  `{"ctr":1750000000000000,"from":"${alice.nodeId}","nonce":"AAAAAAAAAAAAAAAA","swarm":"bench","to":"${bob.nodeId}","ts":1750000000000,"type":"application/octet-stream","v":1}`,
);

function rawSeal(payload: Buffer): { iv: Buffer; body: Buffer; sig: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', aesKey, iv);
  cipher.setAAD(header);
  const body = Buffer.concat([header, cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
  return { iv, body, sig: sign(null, body, aliceKeys.ed25519) };
}

function rawOpen(e: { iv: Buffer; body: Buffer; sig: Buffer }): Buffer {
  if (!verify(null, e.body, aliceVerify, e.sig)) throw new Error('bad');
  const decipher = createDecipheriv('aes-256-gcm', aesKey, e.iv);
  decipher.setAAD(header);
  decipher.setAuthTag(e.body.subarray(e.body.length - 16));
  return Buffer.concat([
    decipher.update(e.body.subarray(header.length, e.body.length - 16)),
    decipher.final(),
  ]);
}

for (const [label, size, pool] of [
  ['1 KB', 1024, 3000],
  ['64 KB', 65536, 600],
] as const) {
  const payload = randomBytes(size);
  const seal = compare(
    `envelope seal (${label})`,
    () => rawSeal(payload),
    () => aliceChannel.seal({ node: bob.nodeId }, payload),
  );
  // Open needs fresh envelopes (the replay guard rejects repeats): each sample opens a new batch
  // built before the clock starts. Raw opens get the same treatment.
  let rawPool: ReturnType<typeof rawSeal>[] = [];
  let ourPool: Buffer[] = [];
  const open = compare(
    `envelope open (${label})`,
    {
      prepare: () => (rawPool = Array.from({ length: pool }, () => rawSeal(payload))),
      op: (i) => rawOpen(rawPool[i]!),
      fixed: pool,
    },
    {
      prepare: () =>
        (ourPool = Array.from({ length: pool }, () => aliceChannel.seal({ node: bob.nodeId }, payload))),
      op: (i) => bobChannel.open(ourPool[i]!),
      fixed: pool,
    },
  );
  const roundTrip = (a: number, b: number): number => 1 / (1 / a + 1 / b);
  const raw = roundTrip(seal.raw, open.raw);
  const ours = roundTrip(seal.ours, open.ours);
  emit(`swarm envelope seal+open (${label}) raw`, raw, 'ops/s');
  emit(`swarm envelope seal+open (${label}) ours`, ours, 'ops/s');
  emit(`swarm envelope seal+open (${label}) overhead`, (raw / ours - 1) * 100, '%');
}

// --- Hybrid Ed25519 + ML-DSA-65 ------------------------------------------------------------------
const pq = ml_dsa65.keygen(randomBytes(32));
const pair = HybridKeyPair.generate();
const hybridSig = pair.sign(msg);
const hybridKeys = decodeHybridPublicKey(pair.publicKey);
const rawPq = ml_dsa65.sign(msg, pq.secretKey);
compare(
  'hybrid sign (256 B)',
  () => {
    sign(null, msg, keys.ed25519);
    ml_dsa65.sign(msg, pq.secretKey);
  },
  () => pair.sign(msg),
);
compare(
  'hybrid verify (256 B)',
  () => {
    if (!verify(null, msg, publicKey.ed25519, rawSig) || !ml_dsa65.verify(rawPq, msg, pq.publicKey))
      throw new Error('bad');
  },
  () => {
    if (!verifyHybrid(hybridKeys, msg, hybridSig)) throw new Error('bad');
  },
);
