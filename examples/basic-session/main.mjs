// basic_session: open Warden, register an agent, create a session, submit tasks, wait for their results,
// and print them with the session's provenance summary.
// Run: node examples/basic-session/main.mjs [--data DIR]   (after `npm ci`, or `npm run build`)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Warden } from 'warden';

const examples = fileURLToPath(new URL('..', import.meta.url));
const { root, cleanup } = dataDirectory(process.argv.slice(2));

const warden = await Warden.open({ storage: { root } });
try {
  // A WASM agent from examples/wasm-as (AssemblyScript, built by `npm ci`): the size of its JSON input and
  // the words in its strings (keys too).
  const agent = await warden.registerAgent({ path: join(examples, 'wasm-as', 'agent.yaml') });
  console.log(`registered ${agent.key} (runtime ${agent.manifest.runtime}, sandbox: WASI)`);

  const session = await warden.ensureSession({ name: 'basic', maxConcurrency: 4 });
  console.log(
    `session   ${session.name} (${session.id}), policy ${session.policy}, max ${session.maxConcurrency} at once`,
  );

  const texts = [
    'hello world',
    'the quick brown fox jumps over the lazy dog',
    'warden keeps a provenance log',
  ];
  const receipts = [];
  for (const text of texts)
    receipts.push(await warden.submit({ agent: 'wasm-as', session: 'basic', input: { text } }));
  console.log(`submitted ${receipts.length} tasks\n`);

  for (const receipt of receipts) {
    const r = await warden.result(receipt, { timeoutMs: 10_000 });
    if (!r) throw new Error(`task ${receipt.id} did not finish in 10 s`);
    const out = r.output ?? r.error;
    console.log(
      `task ${receipt.id}  ${r.status}  attempts=${r.attempts}  wall=${r.usage?.wallMs?.toFixed(1)} ms`,
    );
    console.log(`  input:  ${JSON.stringify(receipt.input)}`);
    console.log(`  output: ${JSON.stringify(out)}`);
    console.log(`  output sha256: ${r.outputDigest}`);
  }

  const p = await warden.verify('basic');
  console.log(
    `\nprovenance (session basic): ${p.length} records, ${p.ok ? 'chain verified' : `BROKEN at seq ${p.broken?.seq}: ${p.broken?.reason}`}`,
  );
  console.log(`  head: ${p.headHash}`);
  process.exitCode = p.ok ? 0 : 1;
} finally {
  await warden.close();
  cleanup();
}

/** `--data DIR` keeps the store there; otherwise a temporary directory, removed at the end. */
function dataDirectory(args) {
  const i = args.indexOf('--data');
  if (i >= 0 && args[i + 1]) return { root: args[i + 1], cleanup: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'warden-example-'));
  return { root: dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
