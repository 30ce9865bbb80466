import { WardenError, type AgentManifest, type Runtime } from '../core/index.js';
import type { AgentRuntime } from './runner.js';
import { InlineRuntime } from './inline/inline-runtime.js';
import { ProcessRuntime } from './process/process-runtime.js';

/** The runtimes this build can run, by manifest `spec.runtime`. */
export class RuntimeRegistry {
  readonly inline = new InlineRuntime();
  private readonly runtimes = new Map<Runtime, AgentRuntime>();

  constructor() {
    this.add(this.inline);
    for (const name of ['node', 'python', 'process'] as const) this.add(new ProcessRuntime(name));
  }

  add(runtime: AgentRuntime): void {
    this.runtimes.set(runtime.name, runtime);
  }

  get(manifest: Pick<AgentManifest, 'runtime' | 'name'>): AgentRuntime {
    const runtime = this.runtimes.get(manifest.runtime);
    if (!runtime) {
      throw new WardenError(
        'RUNTIME_UNAVAILABLE',
        `Agent ${manifest.name} needs runtime ${manifest.runtime}, which this build of Warden cannot run yet (available: ${[...this.runtimes.keys()].join(', ')})`,
        { details: { runtime: manifest.runtime } },
      );
    }
    return runtime;
  }
}
