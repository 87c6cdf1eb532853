import { ok, type Schemas } from '../api.js';
import { ago } from '../format.js';
import { Failure, StatusBadge, useLoad, type Session } from '../ui.js';

type Attachment = Schemas['Attachment'];

/** A node's lease: held while some live attachment's lease runs; expired ones await a fence or release. */
function leaseState(attachments: Attachment[], now: number): { state: string; until: string | undefined } {
  if (attachments.length === 0) return { state: 'idle', until: undefined };
  const latest = attachments.map((a) => a.leaseExpiresAt).sort().pop();
  const expired = attachments.some((a) => Date.parse(a.leaseExpiresAt) < now);
  return { state: expired ? 'lease-expired' : 'leased', until: latest };
}

export function NodesView({ session }: { session: Session }) {
  const admin = session.identity.kind === 'admin';
  const { data, error } = useLoad(async () => {
    const [nodes, attachments, fenced] = await Promise.all([
      ok(session.api.GET('/v1/nodes')),
      ok(session.api.GET('/v1/attachments')),
      ok(session.api.GET('/v1/events', { params: { query: { type: ['attachment.fenced'], limit: 1000 } } })),
    ]);
    return { nodes: nodes.items, attachments: attachments.items, fenced: fenced.items };
  }, []);
  if (!data) return <Failure error={error} />;
  const now = Date.now();
  return (
    <section>
      <h2>Nodes</h2>
      <table data-testid="nodes">
        <thead>
          <tr>
            <th>Node</th>
            <th>Hostname</th>
            <th>Topology</th>
            <th>Heartbeat</th>
            <th>Lease</th>
            <th>Live attachments</th>
            <th>Fencing</th>
          </tr>
        </thead>
        <tbody>
          {data.nodes.map((n) => {
            const mine = data.attachments.filter((a) => a.node === n.id);
            const lease = leaseState(mine, now);
            const fences = data.fenced.filter((e) => e.data.node === n.id);
            const lastFence = fences[fences.length - 1];
            return (
              <tr key={n.id} data-node={n.id}>
                <td>{n.id}</td>
                <td>{n.hostname}</td>
                <td>{Object.entries(n.topology).map(([k, v]) => `${k}=${v}`).join(', ') || '–'}</td>
                <td>{ago(n.lastHeartbeatAt, now)}</td>
                <td>
                  <StatusBadge status={lease.state} /> {lease.until ? `until ${ago(lease.until, now)}` : ''}
                </td>
                <td>{mine.map((a) => `${a.volumeId} (${a.accessMode}, token ${a.fencingToken})`).join(', ') || '–'}</td>
                <td>
                  {lastFence ? (
                    <span>
                      <StatusBadge status="fenced" /> {fences.length}× · last {ago(lastFence.at, now)} (token {String(lastFence.data.fencingToken)})
                    </span>
                  ) : (
                    'never fenced'
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {data.nodes.length === 0 ? <p class="empty">No node has registered yet: start `polly agent` on a host.</p> : null}
      {admin ? null : <p class="note">A service sees its own attachments and fencing events only.</p>}
    </section>
  );
}
