import { useState } from 'preact/hooks';
import { ok, type Schemas } from '../api.js';
import { parseBytes } from '../format.js';
import { Failure, useAction, useLoad, type Session } from '../ui.js';

/** "Why would it land there?": every pool, the filter that rejected it, or its weights and score. */
export function ExplainView({ session }: { session: Session }) {
  const { api } = session;
  const [size, setSize] = useState('1GiB');
  const [profile, setProfile] = useState('');
  const [accessMode, setAccessMode] = useState<Schemas['AccessMode'] | ''>('');
  const [service, setService] = useState('');
  const [result, setResult] = useState<Schemas['Explanation'] | undefined>(undefined);
  const profiles = useLoad(async () => (await ok(api.GET('/v1/profiles'))).items, []);
  const services = useLoad(async () => (await ok(api.GET('/v1/services'))).items, []);
  const { run, message } = useAction();
  const explain = async (e: Event) => {
    e.preventDefault();
    const sizeBytes = parseBytes(size);
    await run(async () => {
      if (!sizeBytes) throw new Error(`size ${JSON.stringify(size)} is not a size`);
      const body: Schemas['CreateVolumeRequest'] = { name: 'explain', sizeBytes };
      if (profile) body.profile = profile;
      if (accessMode) body.accessMode = accessMode;
      if (service) body.service = service;
      setResult(await ok(api.POST('/v1/placement/explain', { body })));
    });
  };
  const weightNames = [...new Set((result?.pools ?? []).flatMap((p) => Object.keys(p.weights ?? {})))];
  return (
    <section>
      <h2>Placement explain</h2>
      <form class="inline" onSubmit={explain} aria-label="explain placement">
        <input name="size" value={size} onInput={(e) => setSize(e.currentTarget.value)} size={8} />
        <select name="profile" value={profile} onChange={(e) => setProfile(e.currentTarget.value)}>
          <option value="">default profile</option>
          {(profiles.data ?? []).map((p) => (
            <option key={p.name}>{p.name}</option>
          ))}
        </select>
        <select name="accessMode" value={accessMode} onChange={(e) => setAccessMode(e.currentTarget.value as Schemas['AccessMode'] | '')}>
          <option value="">any access mode</option>
          {['RWO', 'RWOP', 'ROX', 'RWX'].map((m) => (
            <option key={m}>{m}</option>
          ))}
        </select>
        {session.identity.kind === 'admin' ? (
          <select name="service" value={service} onChange={(e) => setService(e.currentTarget.value)} required>
            <option value="">for service…</option>
            {(services.data ?? []).map((s) => (
              <option key={s.name}>{s.name}</option>
            ))}
          </select>
        ) : null}
        <button type="submit">Explain</button>
      </form>
      {message}
      <Failure error={profiles.error} />
      {result ? (
        <>
          <p class={`summary ${result.chosen ? 'ok' : 'error'}`} data-testid="explain-summary">
            {result.chosen ? (
              <>
                Would land on <b>{result.chosen}</b>.{' '}
              </>
            ) : null}
            {result.summary}
          </p>
          <table data-testid="explain">
            <thead>
              <tr>
                <th>Rank</th>
                <th>Pool</th>
                <th>Verdict</th>
                {weightNames.map((w) => (
                  <th key={w}>{w}</th>
                ))}
                <th>Score</th>
              </tr>
            </thead>
            <tbody>
              {[...result.pools]
                .sort((a, b) => (a.rank ?? 1e9) - (b.rank ?? 1e9))
                .map((p) => (
                  <tr key={p.pool} data-pool={p.pool} class={p.pool === result.chosen ? 'chosen' : p.passed ? '' : 'rejected'}>
                    <td>{p.rank ?? '–'}</td>
                    <td>{p.pool}</td>
                    <td>{p.passed ? 'passed' : `rejected by ${p.rejectedBy?.filter}: ${p.rejectedBy?.reason}`}</td>
                    {weightNames.map((w) => {
                      const wt = p.weights?.[w];
                      return <td key={w}>{wt ? `${wt.weighted.toFixed(3)} (${wt.normalized.toFixed(2)}×${wt.multiplier})` : '–'}</td>;
                    })}
                    <td>{p.score === undefined ? '–' : p.score.toFixed(3)}</td>
                  </tr>
                ))}
            </tbody>
          </table>
          <h3>Filters</h3>
          <ul class="filters-list">
            {result.filters.map((f) => (
              <li key={f.name}>
                {f.name}: {f.active ? `rejected ${f.rejected}` : 'not active'}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}
