/**
 * Reads REST v1's Server-Sent Events stream with fetch, because EventSource cannot send the
 * Authorization header. Calls `onEvent` per event until `signal` aborts; reconnects after errors,
 * resuming from the last seen id.
 */
export async function followEvents(
  token: string,
  onEvent: (event: { seq: number; type: string; data: string }) => void,
  onState: (state: 'live' | 'reconnecting') => void,
  signal: AbortSignal,
): Promise<void> {
  let lastId: string | undefined;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${token}` };
      if (lastId) headers['last-event-id'] = lastId;
      const res = await fetch('/v1/events', { headers, signal });
      if (!res.ok || !res.body) throw new Error(`event stream: HTTP ${res.status}`);
      onState('live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id: string | undefined;
          let type = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (id !== undefined && data.length > 0) {
            lastId = id;
            onEvent({ seq: Number(id), type, data: data.join('\n') });
          }
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      void err;
    }
    onState('reconnecting');
    await new Promise((r) => setTimeout(r, 2000));
  }
}
