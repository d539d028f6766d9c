import type { Chart } from 'chart.js';

const DARK = '(prefers-color-scheme: dark)';

/** A custom property of the page's CSS (its colours change with the colour scheme). */
export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function darkScheme(): boolean {
  return matchMedia(DARK).matches;
}

/** Calls `redraw` whenever the colour scheme changes, so a chart follows it as it happens. */
export function followScheme(redraw: () => void): void {
  matchMedia(DARK).addEventListener('change', redraw);
}

export interface AxisColours {
  text: string;
  muted: string;
  grid: string;
}

/** The page's axis colours: ticks, grid, borders, titles and the legend. */
export function axisColours(): AxisColours {
  return { text: cssVar('--text'), muted: cssVar('--muted'), grid: cssVar('--chart-grid') };
}

/** Paints every scale and the legend of `chart` in these colours (applied on the next update). */
export function paintAxes<D>(chart: Chart<'line', D>, colours: AxisColours): void {
  const { options } = chart;
  for (const scale of Object.values(options.scales ?? {})) {
    if (!scale) continue;
    if (scale.ticks) scale.ticks.color = colours.muted;
    if (scale.grid) scale.grid.color = colours.grid;
    if (scale.border) scale.border.color = colours.grid;
    if ('title' in scale && scale.title) scale.title.color = colours.muted;
  }
  const labels = options.plugins?.legend?.labels;
  if (labels) labels.color = colours.text;
}
