import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

// A time series chart over uPlot (about 50 KB, canvas): created once per set of series, fed new data with
// setData on every poll (no re-creation, so no flicker and the legend keeps its toggles), sized to its
// container by a ResizeObserver, and destroyed on unmount.

export interface TimeSeries {
  label: string;
  color: string;
  /** Bars (stacked on each other when the chart is `stacked`) or a line. @default 'line' */
  kind?: 'line' | 'bar';
  dash?: number[];
}

export interface TimeChartProps {
  /** Epoch ms of each point (a bucket's start). */
  times: readonly number[];
  /** One array per series, as long as `times`; null is a gap. */
  values: readonly (readonly (number | null)[])[];
  series: readonly TimeSeries[];
  /** Bar series drawn stacked (the legend still shows each one's own value). */
  stacked?: boolean;
  /** Width of a bucket, so bars fill it. */
  bucketMs: number;
  height?: number;
  /** How a y value reads on the axis and in the legend. */
  format?: (v: number) => string;
  /** Label for screen readers. */
  label: string;
}

const defaultFormat = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

/** Cumulative sums of the bar series, bottom first, so each bar is drawn from the stack below it up. */
function stackedData(values: TimeChartProps['values'], series: readonly TimeSeries[]) {
  const out = values.map((v) => [...v]);
  const bars = series.map((s, i) => (s.kind === 'bar' ? i : -1)).filter((i) => i >= 0);
  for (let k = 1; k < bars.length; k++) {
    const cur = out[bars[k]!]!;
    const below = out[bars[k - 1]!]!;
    for (let j = 0; j < cur.length; j++) cur[j] = (cur[j] ?? 0) + (below[j] ?? 0);
  }
  return out;
}

export function TimeChart(props: TimeChartProps) {
  const { times, values, series, stacked, bucketMs, height = 220, format = defaultFormat, label } = props;
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  // The legend shows each series' own value, also when the drawn one is a cumulative sum.
  const raw = useRef(values);
  raw.current = values;
  const fmt = useRef(format);
  fmt.current = format;

  const toData = (): uPlot.AlignedData => [
    times.map((t) => t / 1000),
    ...(stacked ? stackedData(values, series) : values.map((v) => [...v])),
  ];
  const seriesKey = series.map((s) => `${s.label}:${s.kind ?? 'line'}`).join('|');
  const order = drawOrder(series, stacked);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const bars = uPlot.paths.bars?.({ size: [0.85, Infinity], gap: 1 });
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: true, range: (_u, min, max) => [min, max + bucketMs / 1000] } },
      legend: { live: true },
      axes: [
        { stroke: '#6b7385', grid: { stroke: '#eef0f4' }, ticks: { stroke: '#e3e6ec' } },
        {
          stroke: '#6b7385',
          grid: { stroke: '#eef0f4' },
          ticks: { stroke: '#e3e6ec' },
          size: 64,
          values: (_u, ticks) => ticks.map((v) => fmt.current(v)),
        },
      ],
      series: [
        {
          label: 'at',
          value: (_u, v) =>
            v === null ? '—' : new Date(v * 1000).toLocaleTimeString(undefined, { hour12: false }),
        },
        ...series.map((s, i): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          width: s.kind === 'bar' ? 0 : 2,
          ...(s.kind === 'bar' && bars ? { paths: bars, fill: s.color, points: { show: false } } : {}),
          // A value between two gaps draws no line: a dot shows it.
          ...(s.kind !== 'bar' ? { points: { show: true, size: 5, fill: s.color, filter: isolated } } : {}),
          ...(s.dash ? { dash: s.dash } : {}),
          value: (_u, _v, _s, idx) => {
            const v = idx === null ? null : raw.current[i]?.[idx];
            return v === null || v === undefined ? '—' : fmt.current(v);
          },
        })),
      ],
    };
    opts.series = [opts.series[0]!, ...order.map((i) => opts.series[i + 1]!)];
    const u = new uPlot(opts, reorder(toData(), order), el);
    plot.current = u;
    const ro = new ResizeObserver((entries) => {
      const w = Math.floor(entries[0]?.contentRect.width ?? 0);
      if (w > 0 && w !== u.width) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Re-created only when the series or the geometry change; new data goes through setData below.
  }, [seriesKey, stacked, height, bucketMs]);

  useEffect(() => {
    plot.current?.setData(reorder(toData(), order));
  }, [times, values]);

  return <div ref={host} class="time-chart" role="img" aria-label={label} />;
}

/** The points of a series with no value on either side (a line would not show them). */
function isolated(u: uPlot, sidx: number): number[] {
  const ys = u.data[sidx] ?? [];
  const out: number[] = [];
  for (let i = 0; i < ys.length; i++)
    if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) out.push(i);
  return out;
}

/**
 * The order uPlot draws the series in: stacked bars topmost (largest sum) first, so each smaller one shows
 * over it, then the lines, over the bars.
 */
function drawOrder(series: readonly TimeSeries[], stacked: boolean | undefined): number[] {
  const idx = series.map((_, i) => i);
  if (!stacked) return idx;
  const bars = idx.filter((i) => series[i]!.kind === 'bar');
  return [...bars.reverse(), ...idx.filter((i) => series[i]!.kind !== 'bar')];
}

/** The data in draw order: x first, then the series as drawOrder placed them. */
function reorder(data: uPlot.AlignedData, order: readonly number[]): uPlot.AlignedData {
  return [data[0], ...order.map((i) => data[i + 1]!)];
}
