import { request } from 'undici';

export interface SseEvent {
  id: string;
  event: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

/**
 * Opens a Server-Sent Events stream with a real HTTP client, runs `act`, and returns once `count` events
 * arrived (or throws after `timeoutMs`).
 */
export async function collectSse(
  url: string,
  token: string,
  count: number,
  act: () => Promise<void>,
  opts: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<SseEvent[]> {
  const controller = new AbortController();
  const res = await request(url, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...(opts.headers ?? {}) },
    signal: controller.signal,
  });
  if (res.statusCode !== 200) throw new Error(`SSE ${url}: HTTP ${res.statusCode}`);
  const events: SseEvent[] = [];
  let buffer = '';
  const done = (async () => {
    for await (const chunk of res.body) {
      buffer += chunk.toString();
      let i;
      while ((i = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        const fields: Record<string, string> = {};
        for (const line of block.split('\n')) {
          const at = line.indexOf(': ');
          if (line.startsWith(':') || at < 0) continue;
          fields[line.slice(0, at)] = line.slice(at + 2);
        }
        if (fields.data) events.push({ id: fields.id ?? '', event: fields.event ?? '', data: JSON.parse(fields.data) });
        if (events.length >= count) return;
      }
    }
  })().catch((err: unknown) => {
    if ((err as Error).name !== 'AbortError') throw err;
  });
  try {
    await act();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`only ${events.length} of ${count} events arrived: ${events.map((e) => e.event).join(', ')}`)), opts.timeoutMs ?? 10_000);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    controller.abort();
  }
  return events;
}
