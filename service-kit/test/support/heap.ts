import WebSocket from 'ws';
import type { ManagedProcess } from './processes.js';

/** Environment that makes a Node child accept an inspector on a free loopback port (see `heapUsedAfterGc`). */
export const INSPECTABLE = { NODE_OPTIONS: '--inspect=127.0.0.1:0' } as const;

/**
 * The bytes of JavaScript heap a child started with `INSPECTABLE` still uses after a full garbage
 * collection, asked over its inspector. Unlike its RSS, this does not move with the steps in which
 * V8 grows or keeps its heap, so only what the program holds on to counts.
 */
export async function heapUsedAfterGc(child: ManagedProcess): Promise<number> {
  const [, url] = await child.waitForLine(/Debugger listening on (ws:\/\/\S+)/);
  const socket = new WebSocket(url as string);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  let id = 0;
  const call = (method: string, params: object = {}) =>
    new Promise<{ result?: { result?: { value?: unknown } } }>((resolve, reject) => {
      const mine = ++id;
      const onMessage = (data: WebSocket.RawData) => {
        const message = JSON.parse(String(data));
        if (message.id !== mine) return;
        socket.off('message', onMessage);
        if (message.error) reject(new Error(`${method}: ${message.error.message}`));
        else resolve(message);
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ id: mine, method, params }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    const answer = await call('Runtime.evaluate', {
      expression: 'process.memoryUsage().heapUsed',
      returnByValue: true,
    });
    return Number(answer.result?.result?.value);
  } finally {
    socket.close();
  }
}
