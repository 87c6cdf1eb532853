import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { collect, nonNegativeInt, positiveInt } from '../args.js';
import type { PollyClient } from '../client.js';
import { contextOf } from '../context.js';
import { ConnectionError } from '../errors.js';
import { note, print, renderList, serialize, type Column, type Format } from '../output.js';
import { readSse } from '../sse.js';
import type { PollyEvent } from '../types.js';

const RETRY_MS = 2_000;

function summary(data: Record<string, unknown>, max = 80): string {
  const text = Object.keys(data).length === 0 ? '-' : JSON.stringify(data);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export const EVENT_COLUMNS: Column<PollyEvent>[] = [
  { header: 'SEQ', value: (e) => String(e.seq) },
  { header: 'AT', value: (e) => e.at },
  { header: 'TYPE', value: (e) => e.type },
  { header: 'SERVICE', value: (e) => e.service ?? '-' },
  { header: 'OBJECT', value: (e) => e.objectId },
  { header: 'ACTOR', value: (e) => actorText(e.actor) },
  { header: 'REQUEST', value: (e) => e.requestId ?? '-' },
  { header: 'DATA', value: (e) => summary(e.data) },
];

/** `service:k8s/tok-…`, `admin/tok-…`, `node:n1/tok-…`, `system:reconciler`, or `-` (older events). */
export function actorText(actor: PollyEvent['actor']): string {
  if (!actor) return '-';
  switch (actor.kind) {
    case 'service':
      return `service:${actor.service}/${actor.tokenId}`;
    case 'admin':
      return actor.tokenId ? `admin/${actor.tokenId}` : 'admin';
    case 'node':
      return `node:${actor.node}/${actor.tokenId}`;
    case 'system':
      return `system:${actor.component}`;
  }
}

/** One line per event while following (NDJSON for -o json, YAML documents for -o yaml). */
export function eventLine(e: PollyEvent, format: Format): string {
  if (format === 'json') return JSON.stringify(e);
  if (format === 'yaml') return `---\n${serialize(e, 'yaml')}`;
  return `${e.at}  ${e.type}  ${e.service ?? '-'}  ${e.objectId}  ${actorText(e.actor)}  ${e.requestId ?? '-'}  ${summary(e.data, 200)}`;
}

interface EventOptions {
  type?: string[];
  follow?: boolean;
  limit?: number;
  after?: number;
}

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description('Show events; --follow streams them live until Ctrl-C')
    .option('--type <type>', 'event type or prefix, e.g. volume or volume.created (repeatable)', collect)
    .option('--after <seq>', 'only events after this sequence number (0: from the start)', nonNegativeInt)
    .option('--limit <n>', 'at most this many (without --follow)', positiveInt)
    .option('-f, --follow', 'stream new events (Server-Sent Events) until interrupted')
    .action(async (opts: EventOptions, cmd: Command) => {
      const { client, format } = contextOf(cmd);
      const query = { type: opts.type, after: opts.after };
      if (opts.follow) return follow(client, query, format, opts.after);
      const { items } = await client.get<{ items: PollyEvent[] }>('/v1/events', { ...query, limit: opts.limit });
      if (format === 'table' && items.length === 0) note('No events.');
      else print(renderList(items, EVENT_COLUMNS, format));
    });
}

/** Streams events, reconnecting (from the last seen id) when the connection drops, until a signal. */
async function follow(client: PollyClient, query: { type?: string[] | undefined }, format: Format, after?: number): Promise<void> {
  let stopped = false;
  let current: Readable | undefined;
  const stop = () => {
    stopped = true;
    current?.destroy();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let lastSeq = after;
  let first = true;
  try {
    while (!stopped) {
      try {
        current = await client.stream('/v1/events', query, lastSeq);
      } catch (err) {
        if (first || !(err instanceof ConnectionError)) throw err;
        await sleep(RETRY_MS);
        continue;
      }
      if (!first) note('polly: event stream reconnected');
      first = false;
      try {
        for await (const msg of readSse(current)) {
          const e = JSON.parse(msg.data) as PollyEvent;
          lastSeq = e.seq;
          print(eventLine(e, format));
        }
        if (!stopped) note('polly: event stream closed by the server; reconnecting');
      } catch (err) {
        if (stopped) break;
        note(`polly: event stream interrupted (${(err as Error).message}); reconnecting`);
      }
      if (!stopped) await sleep(RETRY_MS);
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
