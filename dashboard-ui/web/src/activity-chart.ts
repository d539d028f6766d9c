import {
  Chart,
  type ChartConfiguration,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';
import { ACTIVITY_SERIES, type ActivityCounter, type ActivitySeries, activityText } from './activity.js';
import { axisColours, cssVar, darkScheme, followScheme, paintAxes } from './chart-theme.js';
import { setText } from './dom.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

/** The lines, each with its colour from the page's CSS (light or dark) and a dash, so they differ without colour too. */
const LINES: Record<ActivitySeries, { label: string; color: string; dash: number[] }> = {
  signups: { label: 'Sign-ups', color: '--chart-signups', dash: [] },
  logins: { label: 'Logins', color: '--chart-logins', dash: [] },
  failedLogins: { label: 'Failed logins', color: '--chart-failed-logins', dash: [6, 3] },
  posts: { label: 'Posts', color: '--chart-posts', dash: [2, 3] },
};

interface MinutePoint {
  x: number;
  y: number;
}

function minuteOf(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour12: false, hour: '2-digit', minute: '2-digit' });
}

/**
 * Domain events per minute over the last 30 minutes, one line per kind, and the totals as a line
 * of text beside it. Draws what the counter holds, at most once a frame, and again as each
 * minute turns.
 */
export class ActivityChart {
  readonly #counter: ActivityCounter;
  readonly #canvas: HTMLCanvasElement;
  readonly #summary: HTMLElement;
  readonly #chart: Chart<'line', MinutePoint[]>;
  #drawPending = false;
  #minuteTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(canvas: HTMLCanvasElement, summary: HTMLElement, counter: ActivityCounter) {
    this.#counter = counter;
    this.#canvas = canvas;
    this.#summary = summary;
    const config: ChartConfiguration<'line', MinutePoint[]> = {
      type: 'line',
      data: {
        datasets: ACTIVITY_SERIES.map((series) => ({
          label: LINES[series].label,
          data: [],
          borderWidth: 2,
          borderDash: LINES[series].dash,
          pointRadius: 0,
          pointHitRadius: 6,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        normalized: true,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: {
            type: 'linear',
            ticks: { maxRotation: 0, callback: (value) => minuteOf(Number(value)) },
            // On whole ten minutes, wherever the range starts.
            afterBuildTicks: (axis) => {
              const step = 10 * 60_000;
              const ticks = [];
              for (let t = Math.ceil(axis.min / step) * step; t <= axis.max; t += step) ticks.push({ value: t });
              axis.ticks = ticks;
            },
            grid: { display: false },
            border: {},
          },
          y: {
            type: 'linear',
            beginAtZero: true,
            suggestedMax: 4,
            title: { display: true, text: 'per minute' },
            ticks: { precision: 0 },
            grid: {},
            border: {},
          },
        },
        plugins: {
          legend: { position: 'bottom', labels: { boxWidth: 12 } },
          tooltip: { callbacks: { title: (items) => minuteOf(Number(items[0]?.parsed.x)) } },
        },
      },
    };
    this.#chart = new Chart(canvas, config);
    canvas.dataset.series = ACTIVITY_SERIES.map((series) => LINES[series].label).join(', ');
    this.#applyTheme();
    followScheme(() => {
      this.#applyTheme();
      this.render();
    });
    this.render();
  }

  /** Draws on the next frame (many events at once make one drawing). */
  schedule(): void {
    if (this.#drawPending) return;
    this.#drawPending = true;
    requestAnimationFrame(() => {
      this.#drawPending = false;
      this.render();
    });
  }

  #applyTheme(): void {
    this.#chart.data.datasets.forEach((dataset, i) => {
      const series = ACTIVITY_SERIES[i];
      if (!series) return;
      dataset.borderColor = cssVar(LINES[series].color);
      dataset.backgroundColor = dataset.borderColor;
    });
    paintAxes(this.#chart, axisColours());
    this.#canvas.dataset.theme = darkScheme() ? 'dark' : 'light';
  }

  render(now = Date.now()): void {
    const minutes = this.#counter.perMinute(now);
    ACTIVITY_SERIES.forEach((series, i) => {
      const dataset = this.#chart.data.datasets[i];
      if (dataset) dataset.data = minutes.map((minute) => ({ x: minute.start, y: minute[series] }));
      // Readable from the page (and by tests) without reaching into Chart.js: oldest minute first.
      this.#canvas.dataset[series] = minutes.map((minute) => minute[series]).join(',');
    });
    const x = this.#chart.options.scales?.x;
    const first = minutes[0];
    const last = minutes.at(-1);
    if (x && first && last) {
      x.min = first.start;
      x.max = last.start;
    }
    this.#chart.update('none');
    setText(this.#summary, `last ${this.#counter.minutes} min: ${activityText(this.#counter.totals(now))}`);
    clearTimeout(this.#minuteTimer);
    this.#minuteTimer = setTimeout(() => this.render(), 60_000 - (now % 60_000) + 50);
  }
}
