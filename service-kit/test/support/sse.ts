import { get, type IncomingHttpHeaders } from 'node:http';

export interface Reading {
  events: { event: string; data: string }[];
  comments: string[];
  retry: number | undefined;
  ended: boolean;
}

export interface StreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
}

/**
 * Reads a Server-Sent Events stream as an EventSource would, until `until` holds, the stream
 * ends, or 5 s pass; then hangs up. (node:http, since undici's fetch leaves the socket open when
 * a stream is aborted.)
 */
export function readStream(
  url: string,
  until: (reading: Reading) => boolean,
  signal: AbortSignal = AbortSignal.timeout(5_000),
  headers: Record<string, string> = {},
): Promise<{ res: StreamAnswer; reading: Reading }> {
  return new Promise((resolve, reject) => {
    const reading: Reading = { events: [], comments: [], retry: undefined, ended: false };
    const req = get(url, { headers }, (res) => {
      const answer = { status: res.statusCode ?? 0, headers: res.headers };
      const done = () => {
        req.destroy();
        resolve({ res: answer, reading });
      };
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        let end = text.indexOf('\n\n');
        while (end !== -1) {
          const fields = text.slice(0, end).split('\n');
          text = text.slice(end + 2);
          const event = fields.find((line) => line.startsWith('event: '))?.slice(7);
          const data = fields.find((line) => line.startsWith('data: '))?.slice(6);
          const retry = fields.find((line) => line.startsWith('retry: '));
          if (event !== undefined && data !== undefined) reading.events.push({ event, data });
          if (retry) reading.retry = Number(retry.slice(7));
          for (const line of fields) if (line.startsWith(':')) reading.comments.push(line);
          end = text.indexOf('\n\n');
        }
        if (until(reading)) done();
      });
      res.on('end', () => {
        reading.ended = true;
        done();
      });
      signal.addEventListener('abort', done, { once: true });
    });
    req.on('error', reject);
  });
}
