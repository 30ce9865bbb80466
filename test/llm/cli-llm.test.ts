import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTinyGguf } from '../../scripts/build-tiny-gguf.js';
import { tempDir } from '../helpers.js';
import { startFakeProvider, type FakeProvider } from './fake-provider.js';
import { fakeLlmAgentFile } from './fake-agent-file.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'bin', 'warden.js');
const LOCAL_EXAMPLE = join(ROOT, 'examples/llm-local/agent.yaml');

function cli(data: string, env: NodeJS.ProcessEnv, ...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(
      process.execPath,
      [BIN, '--data', data, ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000, encoding: 'utf8' },
      (err, stdout, stderr) =>
        done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

let fake: FakeProvider;
beforeEach(async () => {
  fake = await startFakeProvider();
});
afterEach(() => fake.close());

const fakeAgent = (name: string, baseUrl: string): string => fakeLlmAgentFile(baseUrl, name);

describe('warden CLI with LLM agents', () => {
  it('run --stream prints the generated text as it arrives, then the result with token usage', async () => {
    const data = tempDir();
    const r = await cli(
      data,
      { FAKE_KEY: 'k' },
      'run',
      fakeAgent('chat', fake.openaiBase),
      '--input',
      '{"text":"one two three"}',
      '--stream',
    );
    expect(r.code, r.stderr).toBe(0);
    const [streamed, rest] = r.stdout.split('\n\n');
    expect(streamed).toBe('Repeat: one two three');
    expect(rest).toMatch(/^status:\s+succeeded$/m);
    expect(r.stdout).toMatch(/^model:\s+openai fake-model: 4 prompt \+ 4 completion tokens/m);
  });

  it('agents health reports each agent and exits 1 when one is down', async () => {
    const data = tempDir();
    const env = { FAKE_KEY: 'k' };
    expect((await cli(data, env, 'agents', 'register', fakeAgent('up', fake.openaiBase))).code).toBe(0);
    const ok = await cli(data, env, 'agents', 'health');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      /^ok\s+up@1\.0\.0\s+llm openai fake-model — GET http:\/\/127\.0\.0\.1:\d+\/v1\/models/m,
    );
    expect(
      (await cli(data, env, 'agents', 'register', fakeAgent('down', 'http://127.0.0.1:9/v1'))).code,
    ).toBe(0);
    const bad = await cli(data, env, '--json', 'agents', 'health');
    expect(bad.code).toBe(1);
    const reports = JSON.parse(bad.stdout) as { agent: string; ok: boolean; code?: string }[];
    expect(reports.find((r) => r.agent === 'down@1.0.0')).toMatchObject({
      ok: false,
      code: 'LLM_UNREACHABLE',
    });
    expect(reports.find((r) => r.agent === 'up@1.0.0')).toMatchObject({ ok: true });
  });

  it('runs the local-model example offline', async () => {
    if (!existsSync(join(ROOT, 'examples/llm-local/build/tiny.gguf')))
      buildTinyGguf(join(ROOT, 'examples/llm-local/build/tiny.gguf'));
    const r = await cli(tempDir(), {}, '--json', 'run', LOCAL_EXAMPLE, '--input', '{"text":"hello"}');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      result: { output: { text: string }; usage: { llm: { completionTokens: number } } };
    };
    expect(out.result.output.text.length).toBeGreaterThan(0);
    expect(out.result.usage.llm.completionTokens).toBe(32);
  });
});
