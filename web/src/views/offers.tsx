import { useState } from 'preact/hooks';
import { ok } from '../api.js';
import { ago, bytes, parseBytes } from '../format.js';
import { Failure, StatusBadge, useAction, useLoad, type Session } from '../ui.js';

/** Open offers (accept with a size, or decline) and the reservations accepting made. */
export function OffersView({ session }: { session: Session }) {
  const { api } = session;
  const { data, error, reload } = useLoad(async () => {
    const [offers, reservations] = await Promise.all([ok(api.GET('/v1/offers')), ok(api.GET('/v1/reservations'))]);
    return { offers: offers.items, reservations: reservations.items };
  }, []);
  const [sizes, setSizes] = useState<Record<string, string>>({});
  const { run, message } = useAction();
  if (!data) return <Failure error={error} />;
  const accept = async (id: string, maxBytes: number) => {
    const text = sizes[id] ?? bytes(maxBytes).replace(' ', '');
    const sizeBytes = parseBytes(text);
    const done = await run(async () => {
      if (!sizeBytes) throw new Error(`size ${JSON.stringify(text)} is not a size`);
      await ok(api.POST('/v1/offers/{id}/accept', { params: { path: { id } }, body: { sizeBytes }, headers: { 'idempotency-key': crypto.randomUUID() } }));
    }, `reserved ${bytes(sizeBytes)} from ${id}`);
    if (done) reload();
  };
  const decline = async (id: string) => {
    if (await run(() => ok(api.POST('/v1/offers/{id}/decline', { params: { path: { id } } })), `declined ${id}`)) reload();
  };
  const release = async (id: string) => {
    if (await run(() => ok(api.DELETE('/v1/reservations/{id}', { params: { path: { id } } })), `released ${id}`)) reload();
  };
  return (
    <section>
      <h2>Offers</h2>
      {message}
      <table data-testid="offers">
        <thead>
          <tr>
            <th>Offer</th>
            <th>Service</th>
            <th>Pool</th>
            <th>Profile</th>
            <th>Zone</th>
            <th>Up to</th>
            <th>Expires</th>
            <th>Accept size</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data.offers.map((o) => (
            <tr key={o.id} data-offer={o.id}>
              <td>{o.id}</td>
              <td>{o.service}</td>
              <td>{o.pool}</td>
              <td>{o.profile}</td>
              <td>{o.zone ?? '–'}</td>
              <td>{bytes(o.maxBytes)}</td>
              <td>{ago(o.expiresAt)}</td>
              <td>
                <input aria-label={`size for ${o.id}`} size={7} value={sizes[o.id] ?? bytes(Math.min(o.maxBytes, 1024 ** 3)).replace(' ', '')} onInput={(e) => setSizes({ ...sizes, [o.id]: e.currentTarget.value })} />
              </td>
              <td>
                <button onClick={() => accept(o.id, Math.min(o.maxBytes, 1024 ** 3))}>Accept</button>{' '}
                <button class="link" onClick={() => decline(o.id)}>
                  Decline
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data.offers.length === 0 ? <p class="empty">No open offers.</p> : null}
      <h2>Reservations</h2>
      <table data-testid="reservations">
        <thead>
          <tr>
            <th>Reservation</th>
            <th>Service</th>
            <th>Pool</th>
            <th>Profile</th>
            <th>Size</th>
            <th>Status</th>
            <th>Volume</th>
            <th>Expires</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data.reservations.map((r) => (
            <tr key={r.id} data-reservation={r.id}>
              <td>{r.id}</td>
              <td>{r.service}</td>
              <td>{r.pool}</td>
              <td>{r.profile}</td>
              <td>{bytes(r.sizeBytes)}</td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td>{r.volumeId ?? '–'}</td>
              <td>{ago(r.expiresAt)}</td>
              <td>
                {r.status === 'active' ? (
                  <button class="link" onClick={() => release(r.id)}>
                    Release
                  </button>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
