import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { WardenError } from '../../core/index.js';
import {
  fgwDistance,
  findRdKnee,
  kneedle,
  mengerKnee,
  fgwReport,
  parseGraph,
  rateDistortionCurve,
} from '../../rd/index.js';
import type {
  AttributedGraph,
  CurveDirection,
  CurveShape,
  FgwOptions,
  FgwResult,
  RatePoint,
} from '../../rd/index.js';

/**
 * `warden rd`: rate-distortion analysis from the command line (file formats in docs/rd.md).
 *
 *   warden rd knee <points.json> [--method kneedle|menger] [--sensitivity S] [--json]
 *   warden rd fgw <a.json> <b.json> [--alpha A] [--epsilon E] [--max-iter N] [--tol T] [--json]
 *
 * Bad input throws a WardenError (FILE_NOT_FOUND, INVALID_JSON, RD_INVALID_*); the main CLI prints it.
 */
export function rdCommand(): Command {
  const rd = new Command('rd').description(
    'rate-distortion analysis: FGW distortion between graphs, knee of an RD curve',
  );
  rd.command('knee')
    .description('find the knee of a curve or of refinement points (distortion against Shannon rate)')
    .argument(
      '<points.json>',
      '{"x": [...], "y": [...]}, [[x, y], ...] or {"refinements": [{"distortion", "variance"}, ...]}',
    )
    .option('--method <method>', 'kneedle or menger', 'kneedle')
    .option('--sensitivity <S>', 'Kneedle sensitivity S (≥ 0)', '1')
    .option('--curve <shape>', 'convex or concave (x/y input; default from the file, else convex)')
    .option(
      '--direction <dir>',
      'increasing or decreasing (x/y input; default from the file, else decreasing)',
    )
    .option('--json', 'machine-readable JSON output')
    .action((file: string, flags: KneeFlags, cmd: Command) => {
      const json = Boolean(cmd.optsWithGlobals<{ json?: boolean }>().json);
      const out = kneeReport(readJson(file), flags);
      write(json ? JSON.stringify(out, null, 2) : formatKnee(out));
    });
  rd.command('fgw')
    .description('fused Gromov-Wasserstein distance between two attributed graphs')
    .argument(
      '<a.json>',
      'first graph: {"structure": [[...]]} or {"nodes": n, "edges": [[u, v], ...]}, optional "features", "weights"',
    )
    .argument('<b.json>', 'second graph, same format')
    .option('--alpha <a>', 'structure weight in [0, 1]: 0 = features only, 1 = structure only', '0.5')
    .option('--epsilon <e>', 'entropic regularisation (0 = exact solver)', '0')
    .option('--max-iter <n>', 'outer iteration cap (default 200 exact, 1000 entropic)')
    .option('--tol <t>', 'stopping tolerance, relative and absolute', '1e-9')
    .option('--json', 'machine-readable JSON output')
    .action((a: string, b: string, flags: FgwFlags, cmd: Command) => {
      const json = Boolean(cmd.optsWithGlobals<{ json?: boolean }>().json);
      const options: FgwOptions = {
        alpha: num('--alpha', flags.alpha),
        epsilon: num('--epsilon', flags.epsilon),
        tolRel: num('--tol', flags.tol),
        tolAbs: num('--tol', flags.tol),
        ...(flags.maxIter === undefined ? {} : { maxIter: num('--max-iter', flags.maxIter) }),
      };
      const result = fgwDistance(graphFile(a), graphFile(b), options);
      write(json ? JSON.stringify(fgwReport(result, options), null, 2) : formatFgw(result, options));
    });
  return rd;
}

interface KneeFlags {
  method: string;
  sensitivity: string;
  curve?: string;
  direction?: string;
}

interface FgwFlags {
  alpha: string;
  epsilon: string;
  maxIter?: string;
  tol: string;
}

interface KneeReport {
  method: 'kneedle' | 'menger';
  sensitivity?: number;
  input: 'points' | 'refinements';
  knee: null | { index: number; x: number; y: number; rate?: number; distortion?: number; variance?: number };
  /** Refinement input: every point with its Shannon rate. */
  curve?: RatePoint[];
}

function kneeReport(data: unknown, flags: KneeFlags): KneeReport {
  const method: KneeReport['method'] = flags.method === 'menger' ? 'menger' : 'kneedle';
  if (flags.method !== method) {
    throw new WardenError('RD_INVALID_OPTIONS', `--method must be kneedle or menger (got ${flags.method})`);
  }
  const sensitivity = num('--sensitivity', flags.sensitivity);
  const common = { method, ...(method === 'kneedle' ? { sensitivity } : {}) };
  if (isObject(data) && 'refinements' in data) {
    const points = data['refinements'];
    if (!Array.isArray(points)) invalidPoints('"refinements" must be an array of {"distortion", "variance"}');
    const knee = findRdKnee(points as never[], { method, sensitivity });
    const curve = rateDistortionCurve(points as never[]);
    return {
      ...common,
      input: 'refinements',
      knee: knee && { ...knee.point, x: knee.point.rate, y: knee.point.distortion },
      curve,
    };
  }
  const { x, y, curve, direction } = parsePoints(data);
  const shape = (flags.curve ?? curve ?? 'convex') as CurveShape;
  const dir = (flags.direction ?? direction ?? 'decreasing') as CurveDirection;
  if (shape !== 'convex' && shape !== 'concave')
    throw new WardenError('RD_INVALID_OPTIONS', `curve must be convex or concave (got ${String(shape)})`);
  if (dir !== 'increasing' && dir !== 'decreasing') {
    throw new WardenError(
      'RD_INVALID_OPTIONS',
      `direction must be increasing or decreasing (got ${String(dir)})`,
    );
  }
  const knee =
    method === 'menger' ? mengerKnee(x, y) : kneedle(x, y, { sensitivity, curve: shape, direction: dir });
  return { ...common, input: 'points', knee: knee && { index: knee.index, x: knee.x, y: knee.y } };
}

function parsePoints(data: unknown): { x: number[]; y: number[]; curve?: string; direction?: string } {
  if (Array.isArray(data)) {
    const x: number[] = [];
    const y: number[] = [];
    data.forEach((p: unknown, i) => {
      if (Array.isArray(p) && p.length === 2) {
        x.push(p[0] as number);
        y.push(p[1] as number);
      } else if (isObject(p) && 'x' in p && 'y' in p) {
        x.push(p['x'] as number);
        y.push(p['y'] as number);
      } else invalidPoints(`point ${i} must be [x, y] or {"x": ..., "y": ...}`);
    });
    return { x, y };
  }
  if (isObject(data) && Array.isArray(data['x']) && Array.isArray(data['y'])) {
    return {
      x: data['x'] as number[],
      y: data['y'] as number[],
      ...(typeof data['curve'] === 'string' ? { curve: data['curve'] } : {}),
      ...(typeof data['direction'] === 'string' ? { direction: data['direction'] } : {}),
    };
  }
  invalidPoints('expected {"x": [...], "y": [...]}, [[x, y], ...] or {"refinements": [...]}');
}

function formatKnee(r: KneeReport): string {
  const how = r.method === 'kneedle' ? `kneedle, S=${r.sensitivity}` : 'menger';
  if (!r.knee) return `no knee found (${how})`;
  const k = r.knee;
  if (r.input === 'refinements') {
    return `knee (${how}): refinement ${k.index}: rate ${fmt(k.x)} bits, distortion ${fmt(k.y)} (variance ${fmt(k.variance ?? NaN)})`;
  }
  return `knee (${how}): x = ${fmt(k.x)}, y = ${fmt(k.y)} (point ${k.index})`;
}

function formatFgw(r: FgwResult, o: FgwOptions): string {
  const { rows, cols, data } = r.coupling;
  const lines = [
    `FGW distance: ${fmt(r.distance)} (alpha ${o.alpha}, ${r.solver}${r.solver === 'entropic' ? `, epsilon ${o.epsilon}` : ''})`,
    `iterations:   ${r.iterations} (${r.converged ? 'converged' : 'NOT converged: raise --max-iter or --tol'})`,
    `feature cost: ${fmt(r.featureCost)}   structure cost: ${fmt(r.structureCost)}`,
  ];
  const entries: string[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++)
      if (data[i * cols + j]! > 1e-12) entries.push(`  ${i} -> ${j}: ${fmt(data[i * cols + j]!)}`);
  }
  lines.push(
    `coupling ${rows}×${cols}, ${entries.length} entries > 1e-12${entries.length > 50 ? ' (first 50; --json for all)' : ''}:`,
  );
  lines.push(...entries.slice(0, 50));
  return lines.join('\n');
}

/** The same reader as `POST /rd/fgw`, so both accept exactly the same graphs. */
function graphFile(path: string): AttributedGraph {
  return parseGraph(readJson(path), path);
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new WardenError(
      'FILE_NOT_FOUND',
      `Cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      { cause },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new WardenError('INVALID_JSON', `${path} is not valid JSON (${(cause as Error).message})`, {
      cause,
    });
  }
}

function num(flag: string, value: string): number {
  const v = Number(value);
  if (value.trim() === '' || !Number.isFinite(v))
    throw new WardenError('RD_INVALID_OPTIONS', `${flag} must be a number (got ${value})`);
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalidPoints(message: string): never {
  throw new WardenError('RD_INVALID_POINTS', message);
}

function fmt(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(6))) : String(v);
}

function write(text: string): void {
  process.stdout.write(`${text}\n`);
}
