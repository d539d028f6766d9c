import fastJson from 'fast-json-stringify';
import type { ApiCallEvent, TitaniumEvent } from '../events-contract.js';

type Schema = { type: string | string[] };

/** Every field of an API-call event; the compiler refuses this table if one is missing. */
const API_CALL_FIELDS: Record<keyof ApiCallEvent, Schema> = {
  kind: { type: 'string' },
  id: { type: 'string' },
  timestamp: { type: 'string' },
  request_id: { type: 'string' },
  method: { type: 'string' },
  endpoint: { type: 'string' },
  route: { type: 'string' },
  status: { type: 'integer' },
  outcome: { type: 'string' },
  latency_ms: { type: 'number' },
  user_id: { type: ['integer', 'null'] },
  username: { type: ['string', 'null'] },
  message: { type: 'string' },
};

/** API-call events come one per request: a serializer compiled for their shape, about twice as fast. */
const apiCallJson = fastJson({
  type: 'object',
  properties: API_CALL_FIELDS,
  required: Object.keys(API_CALL_FIELDS),
});

/** An event as the sinks send it: the same JSON as `JSON.stringify` gives. */
export function encodeEvent(event: TitaniumEvent): string {
  return event.kind === 'api' ? apiCallJson(event) : JSON.stringify(event);
}
