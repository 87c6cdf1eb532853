import { useState } from 'preact/hooks';
import { ok, type Schemas } from '../api.js';
import { bytes, labelText, parseBytes, parseLabels } from '../format.js';
import { Failure, StatusBadge, useAction, useLoad, type Session } from '../ui.js';

const PAGE_SIZE = 10;
const STATUSES: Array<Schemas['VolumeStatus']> = ['creating', 'importing', 'available', 'attaching', 'attached', 'detaching', 'deleting', 'error'];

interface Filter {
  label: string;
  status: Schemas['VolumeStatus'] | '';
  pool: string;
}

function CreateVolume({ session, onCreated }: { session: Session; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [size, setSize] = useState('1GiB');
  const [profile, setProfile] = useState('');
  const [labels, setLabels] = useState('');
  const [service, setService] = useState('');
  const admin = session.identity.kind === 'admin';
  const { run, message } = useAction();
  const profiles = useLoad(async () => (await ok(session.api.GET('/v1/profiles'))).items, []);
  // The admin creates on behalf of a service; a service token creates in its own name.
  const services = useLoad(async () => (admin ? (await ok(session.api.GET('/v1/services'))).items : []), [admin]);
  const submit = async (e: Event) => {
    e.preventDefault();
    const sizeBytes = parseBytes(size);
    const done = await run(async () => {
      if (!sizeBytes) throw new Error(`size ${JSON.stringify(size)} is not a size (try 10GiB)`);
      await ok(
        session.api.POST('/v1/volumes', {
          body: { name, sizeBytes, labels: parseLabels(labels), ...(profile ? { profile } : {}), ...(admin ? { service } : {}) },
          headers: { 'idempotency-key': crypto.randomUUID() },
        }),
      );
    }, `created ${name}`);
    if (done) {
      setName('');
      onCreated();
    }
  };
  return (
    <form class="inline" onSubmit={submit} aria-label="create volume">
      <input name="name" placeholder="name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
      <input name="size" placeholder="size" value={size} onInput={(e) => setSize(e.currentTarget.value)} size={7} required />
      <select name="profile" value={profile} onChange={(e) => setProfile(e.currentTarget.value)}>
        <option value="">default profile</option>
        {(profiles.data ?? []).map((p) => (
          <option key={p.name} value={p.name}>
            {p.name}
          </option>
        ))}
      </select>
      <input name="labels" placeholder="labels k=v, k2=v2" value={labels} onInput={(e) => setLabels(e.currentTarget.value)} />
      {admin ? (
        <select name="service" value={service} onChange={(e) => setService(e.currentTarget.value)} required>
          <option value="">for service…</option>
          {(services.data ?? []).map((s) => (
            <option key={s.name}>{s.name}</option>
          ))}
        </select>
      ) : null}
      <button type="submit">Create volume</button>
      {message}
    </form>
  );
}

export function VolumesView({ session }: { session: Session }) {
  const [filter, setFilter] = useState<Filter>({ label: '', status: '', pool: '' });
  // The cursors of the pages before this one, for "Previous".
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const pools = useLoad(async () => (await ok(session.api.GET('/v1/pools'))).items, []);
  const { data, error, reload } = useLoad(async () => {
    const label = Object.entries(parseLabels(filter.label)).map(([k, v]) => `${k}=${v}`);
    return ok(
      session.api.GET('/v1/volumes', {
        params: { query: { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}), ...(label.length ? { label } : {}), ...(filter.status ? { status: filter.status } : {}), ...(filter.pool ? { pool: filter.pool } : {}) } },
      }),
    );
  }, [filter, cursor]);
  // What is typed in the label box, applied on Enter or blur: kept apart so that a re-render caused by
  // another filter meanwhile does not reset the text being typed.
  const [labelDraft, setLabelDraft] = useState('');
  // Functional update: two filter events before a re-render (the status, then the label) must both stick.
  const change = (patch: Partial<Filter>) => {
    setFilter((f) => ({ ...f, ...patch }));
    setCursors([undefined]);
  };
  return (
    <section>
      <h2>Volumes</h2>
      <CreateVolume session={session} onCreated={reload} />
      <form class="inline filters" aria-label="filter volumes" onSubmit={(e) => e.preventDefault()}>
        <input
          name="label"
          placeholder="label k=v"
          value={labelDraft}
          onInput={(e) => setLabelDraft(e.currentTarget.value)}
          onChange={(e) => change({ label: e.currentTarget.value })}
        />
        <select name="status" value={filter.status} onChange={(e) => change({ status: e.currentTarget.value as Filter['status'] })}>
          <option value="">any status</option>
          {STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select name="pool" value={filter.pool} onChange={(e) => change({ pool: e.currentTarget.value })}>
          <option value="">any pool</option>
          {(pools.data ?? []).map((p) => (
            <option key={p.name}>{p.name}</option>
          ))}
        </select>
      </form>
      <Failure error={error} />
      <table data-testid="volumes">
        <thead>
          <tr>
            <th>Name</th>
            <th>Service</th>
            <th>Status</th>
            <th>Size</th>
            <th>Pool</th>
            <th>Profile</th>
            <th>Labels</th>
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((v) => (
            <tr key={v.id} data-volume={v.name}>
              <td>
                <a href={`#/volumes/${encodeURIComponent(v.id)}`}>{v.name}</a>
              </td>
              <td>{v.service}</td>
              <td>
                <StatusBadge status={v.status} />
              </td>
              <td>{bytes(v.sizeBytes)}</td>
              <td>{v.pool}</td>
              <td>{v.profile}</td>
              <td>{labelText(v.labels)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="pager">
        <button disabled={cursors.length <= 1} onClick={() => setCursors(cursors.slice(0, -1))}>
          Previous
        </button>
        <span data-testid="page">page {cursors.length}</span>
        <button disabled={!data?.nextCursor} onClick={() => data?.nextCursor && setCursors([...cursors, data.nextCursor])}>
          Next
        </button>
      </div>
    </section>
  );
}
