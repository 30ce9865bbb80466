import type { ResourceLimits } from '../core/index.js';
import type { RunContext, RunTrace } from '../sandbox/index.js';
import type { LazyAbortController } from './lazy-abort.js';

/**
 * What a runtime gets for one attempt. A class, so that `signal` is a getter on the prototype that makes
 * the attempt's AbortController on first read (LazyAbortController): a getter in an object literal costs
 * V8 (Node 20) ~0.5 µs per object, more than the controller it saves.
 */
export class AttemptContext implements RunContext {
  declare placement?: RunContext['placement'];
  declare token?: RunContext['token'];

  constructor(
    readonly taskId: string,
    readonly sessionId: string,
    readonly attempt: number,
    readonly allowNetwork: boolean,
    readonly limits: ResourceLimits,
    private readonly controller: LazyAbortController,
    readonly log: RunContext['log'],
    readonly trace: RunTrace | undefined,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }
}
