import { errorBody, type HistoryRange, type OptionalRedis } from '@titanium/service-kit';
import { historyCsv } from '@titanium/service-kit/history-csv';
import type { FastifyInstance } from 'fastify';
import { HISTORY_RANGES, TrafficHistory } from './history.js';
import type { StatsWindow } from './stats-window.js';

export const HISTORY_PATH = '/stats/history';

const FORMATS = ['json', 'csv'] as const;
type Format = (typeof FORMATS)[number];

/** The query parameters and the values each allows; the first value is the default. */
const PARAMETERS: Readonly<Record<'range' | 'format', readonly string[]>> = { range: HISTORY_RANGES, format: FORMATS };

const USAGE = Object.entries(PARAMETERS)
  .map(([name, values]) => `${name} (${values.join(' or ')})`)
  .join(' and ');

/**
 * The query, or what is wrong with it. A parameter this endpoint does not take is refused rather
 * than ignored: a misspelt `rnage=24h` would otherwise answer the default hour, which looks right.
 */
function readQuery(query: Record<string, unknown>): { range: HistoryRange; format: Format } | string {
  for (const name of Object.keys(query)) {
    if (!Object.hasOwn(PARAMETERS, name)) {
      return `Unknown query parameter "${name.slice(0, 40)}": ${HISTORY_PATH} takes only ${USAGE}`;
    }
  }
  const chosen: Record<string, string> = {};
  for (const [name, values] of Object.entries(PARAMETERS)) {
    const value = query[name] ?? values[0];
    if (typeof value !== 'string' || !values.includes(value)) {
      return `${name} must be given once, as one of: ${values.join(', ')}`;
    }
    chosen[name] = value;
  }
  return { range: chosen.range as HistoryRange, format: chosen.format as Format };
}

export interface HistoryOptions {
  window: StatsWindow;
  redis: OptionalRedis | undefined;
  instanceId: string;
  redisPrefix: string;
}

/** `GET /stats/history`, and the recording behind it from ready to close. */
export async function history(app: FastifyInstance, options: HistoryOptions): Promise<void> {
  const recorded = new TrafficHistory({ ...options, prefix: options.redisPrefix });

  app.get(HISTORY_PATH, { config: { infra: true } }, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const query = readQuery(request.query as Record<string, unknown>);
    if (typeof query === 'string') return reply.code(400).send(errorBody(400, query));
    const answer = await recorded.answer(query.range);
    if (query.format === 'csv') return reply.type('text/csv; charset=utf-8').send(historyCsv(answer.points));
    return answer;
  });

  app.addHook('onReady', async () => recorded.start());
  app.addHook('onClose', async () => recorded.stop());
}
