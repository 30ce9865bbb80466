/** A point of POST /rd/knee's curve: the caller's step `index`, its distortion and Shannon rate. */
export interface CurvePoint {
  index: number;
  distortion: number;
  variance: number;
  rate: number;
}

const W = 640;
const MAX_DOTS = 200;
const H = 300;
const M = { left: 52, right: 18, top: 16, bottom: 40 };

/** About `count` round tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag) as number;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

/**
 * Distortion against rate as an SVG line chart, the knee ringed and labelled (`data-testid="knee"`).
 * SVG rather than uPlot: a dozen points, a marker that tests and screen readers can find, nothing to size.
 */
export function KneeChart({ curve, knee }: { curve: CurvePoint[]; knee: CurvePoint | null }) {
  const sorted = [...curve].sort((p, q) => p.rate - q.rate || q.distortion - p.distortion);
  const rates = sorted.map((p) => p.rate);
  const xMin = Math.min(...rates);
  const xMax = Math.max(...rates);
  // A little room either side, so the first and last points do not sit on the frame.
  const xPad = xMax > xMin ? (xMax - xMin) * 0.04 : 1;
  const yMax = Math.max(...sorted.map((p) => p.distortion)) * 1.05 || 1;
  const x = (r: number) =>
    M.left + ((r - (xMin - xPad)) / (xMax + xPad - (xMin - xPad))) * (W - M.left - M.right);
  const y = (d: number) => H - M.bottom - (d / yMax) * (H - M.top - M.bottom);
  const path = sorted.map((p, i) => `${i ? 'L' : 'M'}${x(p.rate).toFixed(1)},${y(p.distortion).toFixed(1)}`);
  const kx = knee ? x(knee.rate) : 0;
  const ky = knee ? y(knee.distortion) : 0;
  // The label goes to the side with room.
  const labelLeft = kx > W - 200;
  return (
    <svg
      class="rd-curve"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={`Refinement curve of ${curve.length} steps${knee ? `, knee at step ${knee.index}` : ''}`}
      data-testid="rd-curve"
    >
      <g class="rd-grid">
        {ticks(0, yMax).map((t) => (
          <g key={`y${t}`}>
            <line x1={M.left} x2={W - M.right} y1={y(t)} y2={y(t)} />
            <text x={M.left - 6} y={y(t)} text-anchor="end" dominant-baseline="middle">
              {t}
            </text>
          </g>
        ))}
        {ticks(xMin - xPad, xMax + xPad).map((t) => (
          <g key={`x${t}`}>
            <line x1={x(t)} x2={x(t)} y1={M.top} y2={H - M.bottom} />
            <text x={x(t)} y={H - M.bottom + 16} text-anchor="middle">
              {t}
            </text>
          </g>
        ))}
      </g>
      <text class="rd-axis-title" x={(W + M.left) / 2} y={H - 4} text-anchor="middle">
        rate (bits)
      </text>
      <text
        class="rd-axis-title"
        transform={`translate(12 ${(H - M.bottom + M.top) / 2}) rotate(-90)`}
        text-anchor="middle"
      >
        distortion
      </text>
      <path class="rd-line" d={path.join('')} />
      {/* Dots only while they can be told apart; the line alone carries a long curve. */}
      {(sorted.length <= MAX_DOTS ? sorted : []).map((p) => (
        <circle key={p.index} class="rd-point" cx={x(p.rate)} cy={y(p.distortion)} r={3.5}>
          <title>
            step {p.index}: rate {p.rate.toPrecision(4)} bits, distortion {p.distortion}
          </title>
        </circle>
      ))}
      {knee && (
        <g class="rd-knee" data-testid="knee" data-index={knee.index}>
          <line x1={kx} x2={kx} y1={ky} y2={H - M.bottom} />
          <circle cx={kx} cy={ky} r={8} />
          <text x={labelLeft ? kx - 12 : kx + 12} y={ky - 10} text-anchor={labelLeft ? 'end' : 'start'}>
            knee: step {knee.index} (R {knee.rate.toPrecision(3)}, D {knee.distortion.toPrecision(3)})
          </text>
        </g>
      )}
    </svg>
  );
}
