import { useEffect, useState } from 'preact/hooks';
import type { Schemas } from '../api.js';
import { followEvents } from '../sse.js';
import { StatusBadge, type Session } from '../ui.js';

const KEEP = 200;

/** The live event stream (Server-Sent Events read with fetch, so the token travels in a header). */
export function EventsView({ session }: { session: Session }) {
  const [events, setEvents] = useState<Array<Schemas['Event']>>([]);
  const [state, setState] = useState<'connecting' | 'live' | 'reconnecting'>('connecting');
  const [filter, setFilter] = useState('');
  useEffect(() => {
    const abort = new AbortController();
    void followEvents(
      session.token,
      (e) => setEvents((list) => [JSON.parse(e.data) as Schemas['Event'], ...list].slice(0, KEEP)),
      setState,
      abort.signal,
    );
    return () => abort.abort();
  }, [session.token]);
  const shown = filter ? events.filter((e) => e.type.startsWith(filter)) : events;
  return (
    <section>
      <h2>
        Live events <StatusBadge status={state} />
      </h2>
      <form class="inline" onSubmit={(e) => e.preventDefault()}>
        <input name="type" placeholder="type prefix, e.g. volume" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      </form>
      <table data-testid="events">
        <thead>
          <tr>
            <th>#</th>
            <th>At</th>
            <th>Type</th>
            <th>Service</th>
            <th>Object</th>
            <th>Data</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((e) => (
            <tr key={e.seq} data-type={e.type}>
              <td>{e.seq}</td>
              <td>{e.at}</td>
              <td>{e.type}</td>
              <td>{e.service ?? '–'}</td>
              <td>{e.objectId}</td>
              <td>
                <code>{JSON.stringify(e.data)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 ? <p class="empty">Waiting for events… (new ones appear here as they happen)</p> : null}
    </section>
  );
}
