import { ok, type Schemas } from '../api.js';
import { bytes, percent } from '../format.js';
import { Failure, StatusBadge, useLoad, type Session } from '../ui.js';

type Pool = Schemas['Pool'];

/**
 * What the pool may provision (the scheduler's rule, src/scheduler/provisioning.ts): thin pools
 * (ratio > 1) total × ratio, while real free space stays above the reserve; thick pools their total
 * less the reserve.
 */
export function provisionLimit(p: Pool): number {
  const { totalBytes } = p.capacity;
  return p.overSubscriptionRatio > 1 ? totalBytes * p.overSubscriptionRatio : totalBytes * (1 - p.reservedPercent / 100);
}

/**
 * One pool's capacity as two bars on one scale: the backend (used / free of total) and provisioning
 * (allocated of the over-subscribed limit). Allocation past 100% of total is over-subscription.
 */
function CapacityChart({ pool }: { pool: Pool }) {
  const { totalBytes, freeBytes, allocatedBytes } = pool.capacity;
  const limit = provisionLimit(pool);
  const scale = Math.max(totalBytes, limit, allocatedBytes, 1);
  const w = (n: number) => `${(Math.max(0, n) / scale) * 100}%`;
  const used = totalBytes - freeBytes;
  return (
    <svg class="capacity" viewBox="0 0 400 64" preserveAspectRatio="none" role="img" aria-label={`capacity of ${pool.name}`}>
      <title>{`${pool.name}: total ${bytes(totalBytes)}, free ${bytes(freeBytes)}, allocated ${bytes(allocatedBytes)} of ${bytes(limit)}`}</title>
      <rect x="0" y="4" height="22" width={w(totalBytes)} class="c-total" />
      <rect x="0" y="4" height="22" width={w(used)} class="c-used" />
      <rect x="0" y="34" height="22" width={w(limit)} class="c-limit" />
      <rect x="0" y="34" height="22" width={w(allocatedBytes)} class={allocatedBytes > totalBytes ? 'c-over' : 'c-alloc'} />
      <line x1={w(totalBytes)} x2={w(totalBytes)} y1="0" y2="64" class="c-mark" />
    </svg>
  );
}

export function OverviewView({ session }: { session: Session }) {
  const { data, error } = useLoad(async () => {
    const [pools, volumes, nodes] = await Promise.all([
      ok(session.api.GET('/v1/pools')),
      ok(session.api.GET('/v1/volumes', { params: { query: { limit: 1000 } } })),
      ok(session.api.GET('/v1/nodes')),
    ]);
    return { pools: pools.items, volumes: volumes.items, more: volumes.nextCursor !== null, nodes: nodes.items };
  }, []);
  if (!data) return <Failure error={error} />;
  const byStatus = new Map<string, number>();
  for (const v of data.volumes) byStatus.set(v.status, (byStatus.get(v.status) ?? 0) + 1);
  const total = data.pools.reduce((s, p) => s + p.capacity.totalBytes, 0);
  const free = data.pools.reduce((s, p) => s + p.capacity.freeBytes, 0);
  const allocated = data.pools.reduce((s, p) => s + p.capacity.allocatedBytes, 0);
  return (
    <section>
      <h2>Overview</h2>
      <div class="cards">
        <div class="card">
          <b data-testid="volume-count">{data.volumes.length}{data.more ? '+' : ''}</b> volumes
          <div class="statuses">
            {[...byStatus].map(([s, n]) => (
              <span key={s}>
                <StatusBadge status={s} /> {n}
              </span>
            ))}
          </div>
        </div>
        <div class="card">
          <b>{data.pools.length}</b> pools · <b>{bytes(total)}</b> total · <b>{bytes(free)}</b> free · <b>{bytes(allocated)}</b> allocated
        </div>
        <div class="card">
          <b>{data.nodes.length}</b> nodes
        </div>
      </div>
      <h3>Pool capacity</h3>
      <p class="legend">
        <i class="c-used" /> used <i class="c-total" /> free (of total) · <i class="c-alloc" /> allocated <i class="c-over" /> over-subscribed <i class="c-limit" /> provisioning limit
      </p>
      <table class="pools" data-testid="pools">
        <thead>
          <tr>
            <th>Pool</th>
            <th>Driver</th>
            <th>State</th>
            <th>Total</th>
            <th>Free</th>
            <th>Allocated</th>
            <th>Over-subscription</th>
            <th>Volumes</th>
            <th class="chart">Capacity</th>
          </tr>
        </thead>
        <tbody>
          {data.pools.map((p) => (
            <tr key={p.name} data-pool={p.name}>
              <td>{p.name}</td>
              <td>{p.driver}</td>
              <td>
                <StatusBadge status={p.state} />
              </td>
              <td>{bytes(p.capacity.totalBytes)}</td>
              <td>{bytes(p.capacity.freeBytes)}</td>
              <td>
                {bytes(p.capacity.allocatedBytes)} ({percent(p.capacity.allocatedBytes, p.capacity.totalBytes)})
              </td>
              <td>
                ×{p.overSubscriptionRatio} · {p.reservedPercent}% reserved · limit {bytes(provisionLimit(p))}
              </td>
              <td>{p.capacity.volumeCount}</td>
              <td class="chart">
                <CapacityChart pool={p} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
