import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/core/index.js';
import { openWarden, sleep, tempDir } from '../helpers.js';
import { ROOT } from '../scale-out/cluster.js';

// Issue 15: `placement` in agent.yaml says where an agent's tasks may run.

const manifest = (placement: string) => `apiVersion: warden.dev/v1
kind: Agent
metadata: { name: placed, version: 1.0.0 }
spec:
  runtime: wasm
  module: ./build/agent.wasm
${placement}
`;

describe('placement', () => {
  it('is parsed with its defaults, and a wrong value names the field', () => {
    expect(parseManifest(manifest('  placement: { edge: required, capabilities: [gpu] }')).placement).toEqual(
      {
        edge: 'required',
        capabilities: ['gpu'],
      },
    );
    expect(parseManifest(manifest('  placement: {}')).placement).toEqual({ edge: 'never', capabilities: [] });
    expect(parseManifest(manifest('')).placement).toBeUndefined();
    expect(() => parseManifest(manifest('  placement: { edge: sometimes }'))).toThrow(
      /spec\.placement\.edge: must be one of required, allowed, never/,
    );
  });

  it('edge: required never runs here: with no edge connected the task waits queued; allowed runs here', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'build'));
    copyFileSync(join(ROOT, 'examples/wasm-as/build/agent.wasm'), join(dir, 'build/agent.wasm'));
    writeFileSync(join(dir, 'required.yaml'), manifest('  placement: { edge: required }'));
    writeFileSync(
      join(dir, 'allowed.yaml'),
      manifest('  placement: { edge: allowed }').replace('placed', 'placed-allowed'),
    );
    const warden = await openWarden({ workers: { concurrency: 2 } });
    await warden.registerAgent({ path: join(dir, 'required.yaml') });
    await warden.registerAgent({ path: join(dir, 'allowed.yaml') });
    const waiting = await warden.submit({ agent: 'placed', input: 'a b c' });
    const here = await warden.submit({ agent: 'placed-allowed', input: 'a b c' });
    expect((await warden.result(here, { timeoutMs: 10_000 }))?.status).toBe('succeeded');
    await sleep(300);
    expect((await warden.getTask(waiting.id)).state).toBe('queued');
  }, 30_000);
});
