import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/index.js';
import { traceMetadata } from '../../src/cli/trace-context.js';
import { openWarden, tempDir } from '../helpers.js';

// `warden run|submit --traceparent` (or an inherited TRACEPARENT) puts the task in the caller's trace: the
// context travels in the task's metadata, where the library and the API put it too.

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const AGENT = new URL('../../examples/wasm-wat/agent.yaml', import.meta.url).pathname;

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const code = await main(['node', 'warden', ...args]);
  vi.restoreAllMocks();
  return { code, out, err };
}

describe('trace context from the CLI', () => {
  it('stores --traceparent in the task metadata, and refuses a malformed one', async () => {
    const root = tempDir();
    const ran = await cli(
      '--data',
      root,
      '--json',
      'run',
      AGENT,
      '--input',
      '{"text":"hi"}',
      '--traceparent',
      TP,
    );
    expect(ran.code).toBe(0);
    const taskId = (JSON.parse(ran.out) as { task: { id: string } }).task.id;
    const warden = await openWarden({ root });
    expect((await warden.getTask(taskId)).metadata).toMatchObject({ traceparent: TP });

    const bad = await cli('--data', root, 'run', AGENT, '--input', '{}', '--traceparent', 'not-a-trace');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/INVALID_INPUT.*--traceparent/);
  });

  it('takes TRACEPARENT and TRACESTATE from the environment when no flag is given; ignores a malformed one', () => {
    expect(traceMetadata(undefined, { TRACEPARENT: TP, TRACESTATE: 'k=v' })).toEqual({
      traceparent: TP,
      tracestate: 'k=v',
    });
    expect(traceMetadata(undefined, { TRACEPARENT: 'garbage' })).toBeUndefined();
    expect(traceMetadata(undefined, {})).toBeUndefined();
    expect(traceMetadata(TP, { TRACEPARENT: 'garbage' })).toEqual({ traceparent: TP });
  });
});
