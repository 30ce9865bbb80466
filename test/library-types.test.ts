// Type-level checks of the library API: `npm run typecheck` compiles this file (a wrong type is a compile
// error, and every @ts-expect-error must meet one), and vitest runs the same calls for real.
import { describe, expect, expectTypeOf, it } from 'vitest';
import type {
  ErrorCode,
  PriorityName,
  SerializedError,
  SubmitTask,
  TaskResult,
  TypedAgent,
} from '../src/index.js';
import { openWarden } from './helpers.js';

describe('library types', () => {
  it('names priorities as a union: an unknown one does not compile', () => {
    expectTypeOf<NonNullable<SubmitTask['priority']>>().toEqualTypeOf<PriorityName>();
    const ok: SubmitTask = { agent: 'a', priority: 'background' };
    // @ts-expect-error 'urgent' is not a priority
    const urgent: SubmitTask = { agent: 'a', priority: 'urgent' };
    expect([ok, urgent]).toHaveLength(2);
  });

  it('types error codes as the union of the registry', () => {
    expectTypeOf<SerializedError['code']>().toEqualTypeOf<ErrorCode>();
    // @ts-expect-error not a code of ERROR_CODES
    const bad: SerializedError = { code: 'OOPS', message: 'x', retryable: false };
    expect(bad.code).toBe('OOPS');
  });

  it('carries a handler’s output type from registerHandler through submit to result', async () => {
    const warden = await openWarden({ workers: { concurrency: 2 } });
    const double = await warden.registerHandler('double', async (input: { n: number }) => ({
      n: input.n * 2,
    }));
    expectTypeOf(double).toEqualTypeOf<TypedAgent<{ n: number }, { n: number }>>();

    const task = await warden.submit({ agent: double, input: { n: 21 } });
    const result = await warden.result(task, { timeoutMs: 5000 });
    expectTypeOf(result).toEqualTypeOf<TaskResult<{ n: number }> | undefined>();
    expect(result?.status).toBe('succeeded');
    if (result?.status === 'succeeded') {
      expectTypeOf(result.output).toEqualTypeOf<{ n: number }>();
      expect(result.output.n).toBe(42);
    }
    // Only a succeeded or quarantined result has an output.
    if (result?.status === 'quarantined') expectTypeOf(result.output).toEqualTypeOf<{ n: number }>();
    if (result?.status === 'dead') expectTypeOf(result.output).toEqualTypeOf<null>();

    // A wrong input for a typed agent does not compile (and the call is never made).
    const wrongInput = () =>
      // @ts-expect-error n must be a number
      warden.submit({ agent: double, input: { n: 'twenty-one' } });
    expect(typeof wrongInput).toBe('function');
  });

  it('types a result by hand when the agent is named by a string', async () => {
    const warden = await openWarden({ workers: { concurrency: 2 } });
    await warden.registerHandler('greet', (name: string) => `hello ${name}`);
    const byName = await warden.submit({ agent: 'greet', input: 'ada' });
    const untyped = await warden.result(byName, { timeoutMs: 5000 });
    expectTypeOf(untyped).toEqualTypeOf<TaskResult | undefined>();
    const typed = await warden.result<string>(byName.id);
    if (typed?.status === 'succeeded') {
      expectTypeOf(typed.output).toEqualTypeOf<string>();
      expect(typed.output).toBe('hello ada');
    }
    expect(typed?.status).toBe('succeeded');
    if (typed?.status === 'failed') expectTypeOf(typed.error).toEqualTypeOf<SerializedError | null>();
  });
});
