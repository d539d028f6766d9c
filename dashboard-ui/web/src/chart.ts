import {
  Chart,
  type ChartConfiguration,
  type ChartDataset,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  type Plugin,
  PointElement,
  Tooltip,
} from 'chart.js';
import { type AxisColours, axisColours, cssVar, darkScheme, followScheme, paintAxes } from './chart-theme.js';
import { clock } from './format.js';
import type { RangeSpec } from './history.js';
import type { ChartPoint, ChartSeries, Phase } from './series.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

/** The lines, each read from the same points; colours come from the page's CSS (light or dark). */
const LINES = [
  { key: 'rps', label: 'Requests/s', axis: 'rps', color: '--chart-rps', width: 2, dash: [] },
  { key: 'avgMs', label: 'Average latency (ms)', axis: 'ms', color: '--chart-avg', width: 2, dash: [] },
  { key: 'p95Ms', label: 'p95 latency (ms)', axis: 'ms', color: '--chart-p95', width: 1.5, dash: [6, 3] },
  { key: 'p99Ms', label: 'p99 latency (ms)', axis: 'ms', color: '--chart-p99', width: 1.5, dash: [2, 3] },
] as const;

const PHASE_LABEL: Record<Phase, string> = { traffic: '', idle: 'IDLE', down: 'NO DATA' };

/** Tick spacing per range, so ticks fall on whole minutes and hours. */
const TICK_STEP_MS: Record<RangeSpec['key'], number> = { '5m': 60_000, '1h': 600_000, '24h': 3 * 3_600_000 };

interface Theme extends AxisColours {
  lines: Record<(typeof LINES)[number]['key'], string>;
  idleLine: string;
  fill: Record<Phase, string | undefined>;
  bandText: Record<Phase, string>;
}

function readTheme(): Theme {
  const css = cssVar;
  return {
    ...axisColours(),
    lines: {
      rps: css('--chart-rps'),
      avgMs: css('--chart-avg'),
      p95Ms: css('--chart-p95'),
      p99Ms: css('--chart-p99'),
    },
    idleLine: css('--chart-idle-line'),
    fill: { traffic: undefined, idle: css('--chart-idle-fill'), down: css('--chart-down-fill') },
    bandText: { traffic: '', idle: css('--chart-idle-text'), down: css('--chart-down-text') },
  };
}

/** Shades idle and unrecorded stretches behind the lines and names them, so they are never hidden. */
function phaseBands(chart: ThroughputChart): Plugin<'line'> {
  return {
    id: 'phaseBands',
    beforeDatasetsDraw(instance) {
      const { ctx, chartArea, scales } = instance;
      const x = scales.x;
      const points = chart.series.points;
      if (!x || points.length === 0) return;
      ctx.save();
      let start = 0;
      for (let i = 1; i <= points.length; i++) {
        const first = points[start] as ChartPoint;
        if (i < points.length && points[i]?.phase === first.phase) continue;
        const fill = chart.theme.fill[first.phase];
        const last = points[i - 1] as ChartPoint;
        if (fill) {
          const left = Math.max(chartArea.left, x.getPixelForValue(first.from));
          const right = Math.min(chartArea.right, x.getPixelForValue(last.t));
          if (right > left) {
            ctx.fillStyle = fill;
            ctx.fillRect(left, chartArea.top, right - left, chartArea.height);
            if (right - left > 44) {
              ctx.fillStyle = chart.theme.bandText[first.phase];
              ctx.font = '600 11px system-ui, sans-serif';
              ctx.textAlign = 'center';
              ctx.fillText(PHASE_LABEL[first.phase], (left + right) / 2, chartArea.top + 14);
            }
          }
        }
        start = i;
      }
      ctx.restore();
    },
  };
}

/**
 * Requests/s and latency (average, p95, p99) over the shown range, on two y axes against time.
 * Draws what the series holds; the series bounds the points.
 */
export class ThroughputChart {
  readonly series: ChartSeries;
  theme: Theme;
  readonly #chart: Chart<'line', ChartPoint[]>;
  readonly #canvas: HTMLCanvasElement;

  constructor(canvas: HTMLCanvasElement, series: ChartSeries) {
    this.series = series;
    this.#canvas = canvas;
    this.theme = readTheme();
    const idleSegment = (ctx: { p0DataIndex: number; p1DataIndex: number }) =>
      this.series.points[ctx.p0DataIndex]?.phase !== 'traffic' &&
      this.series.points[ctx.p1DataIndex]?.phase !== 'traffic';
    const datasets: ChartDataset<'line', ChartPoint[]>[] = LINES.map((line) => ({
      label: line.label,
      data: [],
      parsing: { xAxisKey: 't', yAxisKey: line.key },
      yAxisID: line.axis,
      borderWidth: line.width,
      borderDash: [...line.dash],
      pointRadius: 0,
      cubicInterpolationMode: 'monotone',
      ...(line.key === 'rps'
        ? {
            segment: {
              borderColor: (ctx) => (idleSegment(ctx) ? this.theme.idleLine : undefined),
              borderDash: (ctx) => (idleSegment(ctx) ? [4, 4] : undefined),
            },
          }
        : {}),
    }));
    const config: ChartConfiguration<'line', ChartPoint[]> = {
      type: 'line',
      data: { datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        normalized: true,
        interaction: { mode: 'index', intersect: false },
        spanGaps: false,
        scales: {
          x: {
            type: 'linear',
            ticks: { maxRotation: 0, includeBounds: false, callback: (value) => shortTime(Number(value)) },
            grid: { display: false },
            border: {},
          },
          rps: {
            type: 'linear',
            position: 'left',
            beginAtZero: true,
            title: { display: true, text: 'requests/s' },
            ticks: {},
            grid: {},
            border: {},
          },
          ms: {
            type: 'linear',
            position: 'right',
            beginAtZero: true,
            title: { display: true, text: 'latency (ms)' },
            ticks: {},
            grid: { drawOnChartArea: false },
            border: {},
          },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 12 } },
          tooltip: { callbacks: { title: (items) => clock(new Date(Number(items[0]?.parsed.x))) } },
        },
      },
      plugins: [phaseBands(this)],
    };
    this.#chart = new Chart(canvas, config);
    this.#applyTheme();
    canvas.dataset.series = LINES.map((line) => line.label).join(', ');
    followScheme(() => {
      this.theme = readTheme();
      this.#applyTheme();
      this.render();
    });
  }

  #applyTheme(): void {
    const { data } = this.#chart;
    const theme = this.theme;
    LINES.forEach((line, i) => {
      const dataset = data.datasets[i];
      if (!dataset) return;
      dataset.borderColor = theme.lines[line.key];
      dataset.backgroundColor = theme.lines[line.key];
    });
    paintAxes(this.#chart, theme);
    this.#canvas.dataset.theme = darkScheme() ? 'dark' : 'light';
  }

  /** Draws the series as it is now, the range ending at `now`. */
  render(now = Date.now()): void {
    const points = this.series.points;
    const range = this.series.range;
    const data = points.slice();
    for (const dataset of this.#chart.data.datasets) dataset.data = data;
    const x = this.#chart.options.scales?.x;
    if (x) {
      x.min = now - range.durationMs;
      x.max = now;
      if (x.ticks) (x.ticks as { stepSize?: number }).stepSize = TICK_STEP_MS[range.key];
    }
    this.#chart.update('none');
    // Readable from the page (and by tests) without reaching into Chart.js.
    const canvas = this.#canvas.dataset;
    canvas.range = range.key;
    canvas.points = String(points.length);
    canvas.historyPoints = String(points.filter((point) => point.kind === 'history').length);
    canvas.gaps = String(points.filter((point) => point.kind === 'gap').length);
    canvas.lastPhase = points.at(-1)?.phase ?? '';
  }
}

function shortTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour12: false, hour: '2-digit', minute: '2-digit' });
}
