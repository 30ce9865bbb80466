import { useEffect, useRef, useState } from 'preact/hooks';

/** Rows and columns beyond this get no tick labels: they would overlap. */
const MAX_LABELLED = 40;
const PLOT_PX = 520;
const MAX_CELL_PX = 44;

interface Layout {
  cell: number;
  left: number;
  top: number;
  width: number;
  height: number;
  labelled: boolean;
}

function layout(rows: number, cols: number): Layout {
  const cell = Math.max(1, Math.min(MAX_CELL_PX, Math.floor(PLOT_PX / Math.max(rows, cols, 1))));
  const labelled = rows <= MAX_LABELLED && cols <= MAX_LABELLED;
  const left = labelled ? 34 : 8;
  const top = labelled ? 24 : 8;
  return { cell, left, top, width: left + cols * cell + 8, height: top + rows * cell + 8, labelled };
}

/** White (no mass) to the accent blue (the largest entry); a gamma lifts the small entries into view. */
export function massColour(t: number): string {
  const x = Math.pow(Math.min(1, Math.max(0, t)), 0.6);
  const mix = (from: number, to: number) => Math.round(from + (to - from) * x);
  return `rgb(${mix(255, 28)},${mix(255, 64)},${mix(255, 170)})`;
}

function draw(canvas: HTMLCanvasElement, matrix: number[][], cols: number, l: Layout, max: number): void {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(l.width * dpr);
  canvas.height = Math.round(l.height * dpr);
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, l.width, l.height);
  matrix.forEach((row, i) => {
    for (let j = 0; j < cols; j++) {
      ctx.fillStyle = massColour(max > 0 ? (row[j] ?? 0) / max : 0);
      ctx.fillRect(l.left + j * l.cell, l.top + i * l.cell, l.cell, l.cell);
    }
  });
  ctx.strokeStyle = '#c9cfdb';
  ctx.lineWidth = 1;
  ctx.strokeRect(l.left - 0.5, l.top - 0.5, cols * l.cell + 1, matrix.length * l.cell + 1);
  if (!l.labelled) return;
  ctx.fillStyle = '#6b7385';
  ctx.font = `${Math.min(11, Math.max(8, l.cell - 2))}px system-ui, sans-serif`;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  matrix.forEach((_, i) => ctx.fillText(String(i), l.left - 5, l.top + (i + 0.5) * l.cell));
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  for (let j = 0; j < cols; j++) ctx.fillText(String(j), l.left + (j + 0.5) * l.cell, l.top - 5);
}

/**
 * A matrix as a heat map on a canvas: cell (i, j) coloured by its value, row and column numbers for small
 * matrices, the value under the pointer below. Used for FGW transport plans (rows: nodes of graph A).
 */
export function Heatmap({
  matrix,
  rowTitle,
  colTitle,
  testId,
}: {
  matrix: number[][];
  rowTitle: string;
  colTitle: string;
  testId?: string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<{ i: number; j: number } | null>(null);
  const rows = matrix.length;
  const cols = matrix[0]?.length ?? 0;
  const l = layout(rows, cols);
  let max = 0;
  for (const row of matrix) for (const v of row) if (v > max) max = v;

  useEffect(() => {
    if (ref.current) draw(ref.current, matrix, cols, l, max);
    setHover(null);
  }, [matrix]);

  const onMove = (e: MouseEvent) => {
    const canvas = ref.current;
    if (!canvas) return;
    // The canvas may be scaled down by CSS on a narrow screen: map the pointer back to layout pixels.
    const box = canvas.getBoundingClientRect();
    const x = ((e.clientX - box.left) * l.width) / box.width;
    const y = ((e.clientY - box.top) * l.height) / box.height;
    const i = Math.floor((y - l.top) / l.cell);
    const j = Math.floor((x - l.left) / l.cell);
    setHover(i >= 0 && i < rows && j >= 0 && j < cols ? { i, j } : null);
  };

  const value = hover ? (matrix[hover.i]?.[hover.j] ?? 0) : undefined;
  return (
    <figure class="heatmap">
      <div class="heatmap-axes">
        <span class="heatmap-col-title">{colTitle} →</span>
        <span class="heatmap-row-title">{rowTitle} ↓</span>
        <canvas
          ref={ref}
          role="img"
          aria-label={`${rows} × ${cols} heat map of ${rowTitle} against ${colTitle}`}
          data-testid={testId}
          data-rows={rows}
          data-cols={cols}
          style={{ width: `${l.width}px`, aspectRatio: `${l.width} / ${l.height}` }}
          onMouseMove={onMove}
          onMouseLeave={() => setHover(null)}
        />
      </div>
      <figcaption class="heatmap-legend">
        <span>0</span>
        <span class="heatmap-scale" aria-hidden="true" />
        <span>{max.toPrecision(3)}</span>
        <span class="muted heatmap-hover">
          {hover
            ? `${rowTitle} ${hover.i} → ${colTitle} ${hover.j}: ${value!.toPrecision(4)}`
            : 'Point at a cell for its mass.'}
        </span>
      </figcaption>
    </figure>
  );
}
