import { WardenError } from '../core/index.js';

/** Options of {@link fusedGromovWasserstein}. All optional; see each `@default`. */
export interface FgwOptions {
  /**
   * Weight of the structure (Gromov-Wasserstein) term; 1 − alpha weighs the feature term.
   * 0 is exact optimal transport on features, 1 is pure Gromov-Wasserstein.
   * @default 0.5
   */
  alpha?: number;
  /**
   * Entropic regularisation. 0 runs the exact conditional-gradient solver; > 0 runs entropic FGW
   * (projected gradient with log-domain Sinkhorn projections).
   * @default 0
   */
  epsilon?: number;
  /** Outer iteration cap. @default 200 for the exact solver (POT 0.8.2), 1000 for the entropic one */
  maxIter?: number;
  /** Exact solver: stop when |Δcost| / |cost| < tolRel. @default 1e-9 */
  tolRel?: number;
  /**
   * Exact solver: stop when |Δcost| < tolAbs. Entropic solver: stop when ‖T − T_prev‖_F < tolAbs
   * (tested every 10th iteration, as POT).
   * @default 1e-9
   */
  tolAbs?: number;
  /** Pivot cap of each exact OT subproblem. @default 100000 */
  emdMaxIter?: number;
  /** Iteration cap of each Sinkhorn projection. @default 1000 */
  sinkhornMaxIter?: number;
  /**
   * Exact solver only. When a linearised LP has several optimal vertices, which one the simplex
   * returns decides which local optimum conditional gradient reaches. If that happens, the solve is
   * repeated this many times with the nodes relabelled (deterministically) for the LP, and the
   * lowest objective is returned. Never worse than a single run; generic inputs (continuous
   * features) have no ties and pay nothing. 0 gives a single POT-like run.
   * @default 8
   */
  tieRestarts?: number;
  /**
   * Threads for the dense products: 1, or 2 to let a helper worker thread compute half of each
   * large product (≥ 4M multiply-adds, about n = m ≥ 160). Results are bit-identical either way.
   * Off by default: Warden usually runs many agents at once and a solver should not take a
   * second core unasked.
   * @default 1
   */
  threads?: 1 | 2;
  /** Sinkhorn stops when the column-marginal error (2-norm) is below this. @default 1e-9 */
  sinkhornTol?: number;
}

/** Options after defaults and validation; internals see only this. */
export interface CompiledFgwOptions {
  readonly alpha: number;
  readonly epsilon: number;
  readonly maxIter: number;
  readonly tolRel: number;
  readonly tolAbs: number;
  readonly emdMaxIter: number;
  readonly sinkhornMaxIter: number;
  readonly sinkhornTol: number;
  readonly tieRestarts: number;
  readonly threads: 1 | 2;
}

/** Applies defaults and validates; throws `RD_INVALID_OPTIONS` with the offending field. */
export function compileFgwOptions(options: FgwOptions = {}): CompiledFgwOptions {
  const alpha = options.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) invalidOption('alpha', alpha, 'a number in [0, 1]');
  const epsilon = options.epsilon ?? 0;
  if (!(epsilon >= 0 && Number.isFinite(epsilon))) invalidOption('epsilon', epsilon, 'a finite number ≥ 0');
  const maxIter = options.maxIter ?? (epsilon > 0 ? 1000 : 200);
  positiveInteger('maxIter', maxIter);
  const tolRel = options.tolRel ?? 1e-9;
  const tolAbs = options.tolAbs ?? 1e-9;
  nonNegative('tolRel', tolRel);
  nonNegative('tolAbs', tolAbs);
  const emdMaxIter = options.emdMaxIter ?? 100_000;
  positiveInteger('emdMaxIter', emdMaxIter);
  const sinkhornMaxIter = options.sinkhornMaxIter ?? 1000;
  positiveInteger('sinkhornMaxIter', sinkhornMaxIter);
  const sinkhornTol = options.sinkhornTol ?? 1e-9;
  nonNegative('sinkhornTol', sinkhornTol);
  const tieRestarts = options.tieRestarts ?? 8;
  if (!(Number.isInteger(tieRestarts) && tieRestarts >= 0))
    invalidOption('tieRestarts', tieRestarts, 'an integer ≥ 0');
  const threads = options.threads ?? 1;
  if (threads !== 1 && threads !== 2) invalidOption('threads', threads, '1 or 2');
  return {
    alpha,
    epsilon,
    maxIter,
    tolRel,
    tolAbs,
    emdMaxIter,
    sinkhornMaxIter,
    sinkhornTol,
    tieRestarts,
    threads,
  };
}

function positiveInteger(name: string, value: number): void {
  if (!(Number.isInteger(value) && value >= 1)) invalidOption(name, value, 'an integer ≥ 1');
}

function nonNegative(name: string, value: number): void {
  if (!(value >= 0 && Number.isFinite(value))) invalidOption(name, value, 'a finite number ≥ 0');
}

function invalidOption(name: string, value: unknown, expected: string): never {
  throw new WardenError(
    'RD_INVALID_OPTIONS',
    `FGW option ${name} must be ${expected} (got ${String(value)}).`,
    {
      details: { option: name, value },
    },
  );
}
