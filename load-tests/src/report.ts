import type { ScenarioSummary } from './latency-record.js';
import type { LoadResult } from './mixed-load.js';

function row(cells: (string | number)[], widths: number[]): string {
  return cells.map((cell, i) => String(cell).padStart(widths[i] ?? 8)).join('  ');
}

function failures(summary: ScenarioSummary): string {
  const entries = Object.entries(summary.failures);
  return entries.length === 0 ? '-' : entries.map(([what, n]) => `${what}×${n}`).join(' ');
}

function lbLine(label: string, stats: unknown): string {
  const lb = (stats as Record<string, Record<string, unknown>> | undefined)?.['load-balancer'];
  if (!lb) return `${label}: ${JSON.stringify((stats as { error?: string })?.error ?? stats)}`;
  const fields = [
    'requests_per_second',
    'avg_response_time_ms',
    'p95_response_time_ms',
    'success_rate',
    'has_real_traffic',
    'total_requests',
  ];
  return `${label}: ${fields.map((f) => `${f}=${JSON.stringify(lb[f])}`).join(' ')}`;
}

/** The end-of-run table: one row per scenario and a total, then the load balancer's view. */
export function formatReport(result: LoadResult): string {
  const widths = [8, 7, 7, 7, 15, 8, 8, 8, 8];
  const lines = [
    `Titanium mixed load against ${result.url}: ${result.duration_s} s, run ${result.run_id}`,
    '',
    row(['scenario', 'sent', 'ok', 'failed', 'rate/target', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'], widths) +
      '  failures',
  ];
  for (const s of [...result.scenarios, result.total]) {
    lines.push(
      `${row(
        [
          s.scenario,
          s.sent,
          s.ok,
          s.failed,
          `${s.achieved_rate}/${s.target_rate}`,
          s.p50_ms,
          s.p95_ms,
          s.p99_ms,
          s.max_ms,
        ],
        widths,
      )}  ${failures(s)}`,
    );
  }
  lines.push('', lbLine('LB /stats before', result.lb_stats_before), lbLine('LB /stats after ', result.lb_stats_after));
  if (result.cleaned_up > 0) lines.push(`cleanup: removed ${result.cleaned_up} posts this run created`);
  lines.push('', result.passed ? `PASS: ${result.failure_percent} % failed` : `FAIL: ${result.reasons.join('; ')}`);
  return lines.join('\n');
}
