import { WardenError, type AgentManifest, type Runtime } from '../core/index.js';
import type { AgentRuntime } from './runner.js';
import { InlineRuntime } from './inline/inline-runtime.js';
import { INSTALL_HINT, probeBwrap, type BwrapProbe } from './process/bwrap.js';
import { ProcessRuntime } from './process/process-runtime.js';
import { compileSandboxConfig, workRootOf, type SandboxOptions } from './process/sandbox-config.js';
import { sandboxIdentity } from './process/sandbox-user.js';
import { sweepStale } from './process/stale-sweep.js';
import { v1CgroupRoot } from './process/task-cgroup.js';
import { WasmRuntime, type WasmRuntimeOptions } from './wasm/wasm-runtime.js';
import { LlmRuntime, type LlmRuntimeOptions } from './llm/index.js';

const PROCESS_RUNTIMES = ['node', 'python', 'process'] as const;
type ProcessRuntimeName = (typeof PROCESS_RUNTIMES)[number];

export interface RuntimeRegistryOptions {
  /**
   * Run node/python/process agents without the bubblewrap sandbox when it is unavailable (a loud warning
   * is printed once). Also enabled by the environment variable WARDEN_UNSAFE_NO_SANDBOX=1.
   * @default false
   */
  unsafeNoSandbox?: boolean;
  /** Options of the bubblewrap sandbox (bwrap path, work directory root, process/file limits). */
  sandbox?: SandboxOptions;
  /** Options of the WASM runtime (worker pool size). */
  wasm?: WasmRuntimeOptions;
  /** Options of the LLM runtime (price table, API key environment, local model threads). */
  llm?: LlmRuntimeOptions;
  /** Where the unsafe-mode warning goes. @default process.stderr */
  warn?: (message: string) => void;
}

/**
 * The runtimes this build can run, by manifest `spec.runtime`. node, python and process agents run in the
 * bubblewrap sandbox; without a working bubblewrap they are refused with SANDBOX_UNAVAILABLE unless
 * `unsafeNoSandbox` is set.
 * @example
 * const runtimes = new RuntimeRegistry({ unsafeNoSandbox: process.env.CI_NO_USERNS === '1' });
 */
export class RuntimeRegistry {
  readonly inline = new InlineRuntime();
  readonly wasm: WasmRuntime;
  readonly llm: LlmRuntime;
  private readonly runtimes = new Map<Runtime, AgentRuntime>();
  private readonly unsafe: boolean;
  private probe: BwrapProbe | undefined;

  constructor(private readonly options: RuntimeRegistryOptions = {}) {
    this.unsafe = options.unsafeNoSandbox ?? process.env['WARDEN_UNSAFE_NO_SANDBOX'] === '1';
    this.wasm = new WasmRuntime(options.wasm);
    this.llm = new LlmRuntime(options.llm);
    this.add(this.inline);
    this.add(this.wasm);
    this.add(this.llm);
  }

  add(runtime: AgentRuntime): void {
    this.runtimes.set(runtime.name, runtime);
  }

  get(manifest: Pick<AgentManifest, 'runtime' | 'name'>): AgentRuntime {
    const runtime =
      this.runtimes.get(manifest.runtime) ??
      (isProcessRuntime(manifest.runtime) ? this.processRuntime(manifest.runtime, manifest.name) : undefined);
    if (!runtime) {
      throw new WardenError(
        'RUNTIME_UNAVAILABLE',
        `Agent ${manifest.name} needs runtime ${manifest.runtime}, which this build of Warden cannot run yet (available: ${[...this.runtimes.keys(), ...PROCESS_RUNTIMES].join(', ')})`,
        { details: { runtime: manifest.runtime } },
      );
    }
    return runtime;
  }

  /** Whether node/python/process agents run sandboxed (probes bubblewrap on first call). */
  get sandboxed(): boolean {
    return this.bwrap().ok;
  }

  /**
   * Removes the sandbox work directories and pids cgroups that Warden processes killed mid-task left
   * behind (only those whose owner process is gone). Best effort; Warden.open calls it.
   */
  sweepStale(): Promise<number> {
    const cgroupRoots = [v1CgroupRoot('pids'), v1CgroupRoot('memory')];
    return sweepStale(workRootOf(this.options.sandbox), cgroupRoots).catch(() => 0);
  }

  /**
   * Stops the WASM worker pool, closes model connections, unloads local models and ends the sandbox
   * launcher kept ready.
   */
  async close(): Promise<void> {
    const processes = [...this.runtimes.values()].filter((r) => r instanceof ProcessRuntime);
    await Promise.all([this.wasm.close(), this.llm.close(), ...processes.map((r) => r.close())]);
  }

  private bwrap(): BwrapProbe {
    this.probe ??= probeBwrap(this.options.sandbox?.bwrapPath, sandboxIdentity(this.options.sandbox));
    return this.probe;
  }

  private warnMissingFeatures(probe: BwrapProbe): void {
    const lost = FEATURE_LOSSES.filter(([f]) => !probe.features[f]).map(([, what]) => what);
    if (lost.length === 0) return;
    (this.options.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(
      `WARNING: bubblewrap at ${probe.path} is older than Warden expects; upgrade it. Without ${lost.join('; without ')}.`,
    );
  }

  private processRuntime(name: ProcessRuntimeName, agent: string): AgentRuntime {
    const probe = this.bwrap();
    if (probe.ok && probe.path) {
      const sandbox = compileSandboxConfig(probe.path, probe.features, this.options.sandbox);
      this.warnMissingFeatures(probe);
      for (const n of PROCESS_RUNTIMES) this.add(new ProcessRuntime(n, { sandbox }));
    } else if (this.unsafe) {
      (this.options.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(
        `WARNING: running node/python/process agents WITHOUT a sandbox (--unsafe-no-sandbox): ${probe.reason}. ` +
          'Agents can read your files, use the network and signal your processes. Run only code you trust.',
      );
      for (const n of PROCESS_RUNTIMES) this.add(new ProcessRuntime(n, { sandbox: null }));
    } else {
      throw new WardenError(
        'SANDBOX_UNAVAILABLE',
        `Agent ${agent} (runtime ${name}) must run in the bubblewrap sandbox, which is unavailable: ${probe.reason}. ` +
          `Install it (${INSTALL_HINT}), or pass --unsafe-no-sandbox (WARDEN_UNSAFE_NO_SANDBOX=1) to run it unsandboxed.`,
        { details: { runtime: name, reason: probe.reason } },
      );
    }
    return this.runtimes.get(name)!;
  }
}

/** bubblewrap options whose absence weakens the sandbox, and what is lost without them. */
const FEATURE_LOSSES: [keyof BwrapProbe['features'], string][] = [
  ['tmpfsSize', '--size (0.7): /tmp and /dev/shm have no hard size (their use still counts toward memoryMb)'],
  ['disableUserns', '--disable-userns (0.8): agents can create nested user namespaces'],
];

function isProcessRuntime(name: Runtime): name is ProcessRuntimeName {
  return (PROCESS_RUNTIMES as readonly string[]).includes(name);
}
