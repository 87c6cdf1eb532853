import { ok } from '../api.js';
import { bytes } from '../format.js';
import { Bar, Failure, useLoad, type Session } from '../ui.js';

/** Services with their quota usage (a service token sees itself). */
export function ServicesView({ session }: { session: Session }) {
  const { data, error } = useLoad(async () => {
    const services = (await ok(session.api.GET('/v1/services'))).items;
    const quotas = await Promise.all(services.map((s) => ok(session.api.GET('/v1/services/{name}/quota', { params: { path: { name: s.name } } }))));
    return services.map((s, i) => ({ service: s, quota: quotas[i] }));
  }, []);
  if (!data) return <Failure error={error} />;
  return (
    <section>
      <h2>Services</h2>
      <table data-testid="services">
        <thead>
          <tr>
            <th>Service</th>
            <th>Volumes</th>
            <th>Bytes</th>
            <th>Snapshots</th>
            <th>Reserved</th>
          </tr>
        </thead>
        <tbody>
          {data.map(({ service, quota }) => (
            <tr key={service.name} data-service={service.name}>
              <td>{service.name}</td>
              <td>
                <Bar value={quota?.usage.volumes ?? 0} max={quota?.maxVolumes ?? null} label={`${quota?.usage.volumes ?? 0} / ${quota?.maxVolumes ?? '∞'}`} />
              </td>
              <td>
                <Bar value={quota?.usage.bytes ?? 0} max={quota?.maxBytes ?? null} label={`${bytes(quota?.usage.bytes)} / ${bytes(quota?.maxBytes)}`} />
              </td>
              <td>
                <Bar value={quota?.usage.snapshots ?? 0} max={quota?.maxSnapshots ?? null} label={`${quota?.usage.snapshots ?? 0} / ${quota?.maxSnapshots ?? '∞'}`} />
              </td>
              <td>{bytes(quota?.usage.reservedBytes ?? 0)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
