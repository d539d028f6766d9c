import {
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  type Plugin,
  PointElement,
  Tooltip,
} from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend, Tooltip);

export type Phase = 'traffic' | 'idle' | 'down';

export interface Sample {
  at: Date;
  phase: Phase;
  rps: number | null;
  avgMs: number | null;
  p95Ms: number | null;
}

const PHASE_FILL: Record<Phase, string | undefined> = {
  traffic: undefined,
  idle: 'rgba(120, 130, 145, 0.14)',
  down: 'rgba(220, 53, 69, 0.14)',
};
const PHASE_LABEL: Record<Phase, string> = { traffic: '', idle: 'IDLE', down: 'NO DATA' };

/** Shades idle and disconnected stretches behind the lines and names them, so they are never hidden. */
function phaseBands(phases: Phase[]): Plugin<'line'> {
  return {
    id: 'phaseBands',
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      const x = scales.x;
      if (!x || phases.length === 0) return;
      const step = phases.length > 1 ? x.getPixelForValue(1) - x.getPixelForValue(0) : chartArea.width;
      ctx.save();
      let start = 0;
      for (let i = 1; i <= phases.length; i++) {
        if (i < phases.length && phases[i] === phases[start]) continue;
        const phase = phases[start] ?? 'traffic';
        const fill = PHASE_FILL[phase];
        if (fill) {
          const left = Math.max(chartArea.left, x.getPixelForValue(start) - step / 2);
          const right = Math.min(chartArea.right, x.getPixelForValue(i - 1) + step / 2);
          ctx.fillStyle = fill;
          ctx.fillRect(left, chartArea.top, right - left, chartArea.height);
          if (right - left > 44) {
            ctx.fillStyle = phase === 'down' ? '#a4212e' : '#4b5563';
            ctx.font = '600 11px system-ui, sans-serif';
            ctx.textAlign = 'center';
            ctx.fillText(PHASE_LABEL[phase], (left + right) / 2, chartArea.top + 14);
          }
        }
        start = i;
      }
      ctx.restore();
    },
  };
}

/** RPS and latency over the last `capacity` polls, on two y axes; memory never grows past it. */
export class ThroughputChart {
  readonly capacity: number;
  readonly #chart: Chart<'line', (number | null)[], string>;
  readonly #phases: Phase[] = [];
  readonly #canvas: HTMLCanvasElement;

  constructor(canvas: HTMLCanvasElement, capacity = 150) {
    this.capacity = capacity;
    this.#canvas = canvas;
    const phases = this.#phases;
    const idleSegment = (ctx: { p0DataIndex: number; p1DataIndex: number }) =>
      phases[ctx.p0DataIndex] !== 'traffic' && phases[ctx.p1DataIndex] !== 'traffic';
    const config: ChartConfiguration<'line', (number | null)[], string> = {
      type: 'line',
      data: {
        labels: [],
        datasets: [
          {
            label: 'Requests/s',
            data: [],
            yAxisID: 'rps',
            borderColor: '#2563eb',
            backgroundColor: '#2563eb',
            borderWidth: 2,
            pointRadius: 0,
            cubicInterpolationMode: 'monotone',
            segment: {
              borderColor: (ctx) => (idleSegment(ctx) ? '#9ca3af' : undefined),
              borderDash: (ctx) => (idleSegment(ctx) ? [4, 4] : undefined),
            },
          },
          {
            label: 'Average latency (ms)',
            data: [],
            yAxisID: 'ms',
            borderColor: '#059669',
            backgroundColor: '#059669',
            borderWidth: 2,
            pointRadius: 0,
            cubicInterpolationMode: 'monotone',
          },
          {
            label: 'p95 latency (ms)',
            data: [],
            yAxisID: 'ms',
            borderColor: '#d97706',
            backgroundColor: '#d97706',
            borderWidth: 1.5,
            borderDash: [6, 3],
            pointRadius: 0,
            cubicInterpolationMode: 'monotone',
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        spanGaps: false,
        scales: {
          x: { ticks: { maxTicksLimit: 8, maxRotation: 0 }, grid: { display: false } },
          rps: {
            type: 'linear',
            position: 'left',
            beginAtZero: true,
            title: { display: true, text: 'requests/s' },
          },
          ms: {
            type: 'linear',
            position: 'right',
            beginAtZero: true,
            title: { display: true, text: 'latency (ms)' },
            grid: { drawOnChartArea: false },
          },
        },
        plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } } },
      },
      plugins: [phaseBands(phases)],
    };
    this.#chart = new Chart(canvas, config);
  }

  get points(): number {
    return this.#phases.length;
  }

  get phases(): readonly Phase[] {
    return this.#phases;
  }

  add(sample: Sample): void {
    const { data } = this.#chart;
    const labels = data.labels as string[];
    labels.push(sample.at.toLocaleTimeString([], { hour12: false }));
    data.datasets[0]?.data.push(sample.rps);
    data.datasets[1]?.data.push(sample.avgMs);
    data.datasets[2]?.data.push(sample.p95Ms);
    this.#phases.push(sample.phase);
    if (this.#phases.length > this.capacity) {
      labels.shift();
      for (const dataset of data.datasets) dataset.data.shift();
      this.#phases.shift();
    }
    this.#chart.update('none');
    // Readable from the page (and by tests) without reaching into Chart.js.
    this.#canvas.dataset.points = String(this.#phases.length);
    this.#canvas.dataset.lastPhase = sample.phase;
  }
}
