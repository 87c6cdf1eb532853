import { useState } from 'preact/hooks';
import { ok } from '../api.js';
import { ago, bytes, labelText } from '../format.js';
import { Failure, StatusBadge, useAction, useLoad, type Session } from '../ui.js';

/** One volume: its fields, attachments, snapshots and events, with snapshot and delete actions. */
export function VolumeDetail({ session, id }: { session: Session; id: string }) {
  const { api } = session;
  const { data, error, reload } = useLoad(async () => {
    const [volume, attachments, snapshots, events] = await Promise.all([
      ok(api.GET('/v1/volumes/{id}', { params: { path: { id } } })),
      ok(api.GET('/v1/attachments', { params: { query: { volume: id } } })),
      ok(api.GET('/v1/snapshots', { params: { query: { volume: id } } })),
      ok(api.GET('/v1/events', { params: { query: { object: id, limit: 100 } } })),
    ]);
    return { volume, attachments: attachments.items, snapshots: snapshots.items, events: events.items };
  }, [id]);
  const [snapName, setSnapName] = useState('');
  const [confirming, setConfirming] = useState(false);
  const { run, message } = useAction();
  if (!data) return <Failure error={error} />;
  const v = data.volume;
  const snapshot = async (e: Event) => {
    e.preventDefault();
    if (await run(() => ok(api.POST('/v1/volumes/{id}/snapshots', { params: { path: { id } }, body: { name: snapName }, headers: { 'idempotency-key': crypto.randomUUID() } })), `snapshot ${snapName} taken`)) {
      setSnapName('');
      reload();
    }
  };
  const remove = async () => {
    if (await run(() => ok(api.DELETE('/v1/volumes/{id}', { params: { path: { id } } })))) window.location.hash = '#/volumes';
  };
  const removeSnapshot = async (sid: string) => {
    if (await run(() => ok(api.DELETE('/v1/snapshots/{id}', { params: { path: { id: sid } } })), 'snapshot deleted')) reload();
  };
  return (
    <section>
      <p>
        <a href="#/volumes">← Volumes</a>
      </p>
      <h2>
        Volume {v.name} <StatusBadge status={v.status} />
      </h2>
      <dl class="fields" data-testid="volume-fields">
        <dt>ID</dt>
        <dd>{v.id}</dd>
        <dt>Service</dt>
        <dd>{v.service}</dd>
        <dt>Pool</dt>
        <dd>{v.pool}</dd>
        <dt>Profile</dt>
        <dd>{v.profile}</dd>
        <dt>Size</dt>
        <dd>{bytes(v.sizeBytes)}</dd>
        <dt>Labels</dt>
        <dd>{labelText(v.labels) || '–'}</dd>
        <dt>Source</dt>
        <dd>{v.source ? `${v.source.kind} ${v.source.id}` : '–'}</dd>
        {v.statusReason ? (
          <>
            <dt>Reason</dt>
            <dd>{v.statusReason}</dd>
          </>
        ) : null}
        <dt>Created</dt>
        <dd>{v.createdAt}</dd>
      </dl>
      <div class="actions">
        {confirming ? (
          <>
            <button class="danger" onClick={remove}>
              Confirm delete of {v.name}
            </button>
            <button onClick={() => setConfirming(false)}>Cancel</button>
          </>
        ) : (
          <button class="danger" onClick={() => setConfirming(true)}>
            Delete volume
          </button>
        )}
      </div>
      {message}
      <h3>Attachments</h3>
      <table data-testid="attachments">
        <thead>
          <tr>
            <th>Node</th>
            <th>Access</th>
            <th>Status</th>
            <th>Fencing token</th>
            <th>Lease expires</th>
          </tr>
        </thead>
        <tbody>
          {data.attachments.map((a) => (
            <tr key={a.id}>
              <td>{a.node}</td>
              <td>
                {a.accessMode}
                {a.readOnly ? ' (ro)' : ''}
              </td>
              <td>
                <StatusBadge status={a.status} />
              </td>
              <td>{a.fencingToken}</td>
              <td>{ago(a.leaseExpiresAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data.attachments.length === 0 ? <p class="empty">not attached</p> : null}
      <h3>Snapshots</h3>
      <form class="inline" onSubmit={snapshot} aria-label="take snapshot">
        <input name="snapshot" placeholder="snapshot name" value={snapName} onInput={(e) => setSnapName(e.currentTarget.value)} required />
        <button type="submit">Take snapshot</button>
      </form>
      <table data-testid="snapshots">
        <thead>
          <tr>
            <th>Name</th>
            <th>Status</th>
            <th>Size</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data.snapshots.map((s) => (
            <tr key={s.id} data-snapshot={s.name}>
              <td>{s.name}</td>
              <td>
                <StatusBadge status={s.status} />
              </td>
              <td>{bytes(s.sizeBytes)}</td>
              <td>{ago(s.createdAt)}</td>
              <td>
                <button class="link" onClick={() => removeSnapshot(s.id)}>
                  delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Events</h3>
      <ul class="events" data-testid="volume-events">
        {data.events.map((e) => (
          <li key={e.seq}>
            <code>{e.at}</code> <b>{e.type}</b> {JSON.stringify(e.data)}
          </li>
        ))}
      </ul>
    </section>
  );
}
