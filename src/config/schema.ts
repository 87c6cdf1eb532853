import { Type, type Static } from 'typebox';
import { NAME_PATTERN } from '../core/names.js';

const Name = Type.String({ pattern: NAME_PATTERN });
const Labels = Type.Record(Type.String(), Type.String());
const Strict = { additionalProperties: false } as const;

export const TopologySchema = Type.Object(
  {
    zone: Type.Optional(Type.String()),
    region: Type.Optional(Type.String()),
    nodes: Type.Optional(Type.Array(Type.String())),
  },
  Strict,
);

export const PoolConfigSchema = Type.Object(
  {
    name: Name,
    driver: Type.String(),
    /** Shorthand for parameters.path, for path-based drivers. */
    path: Type.Optional(Type.String()),
    parameters: Type.Optional(Type.Record(Type.String(), Type.String())),
    labels: Type.Optional(Labels),
    topology: Type.Optional(TopologySchema),
    state: Type.Optional(Type.Union([Type.Literal('enabled'), Type.Literal('draining'), Type.Literal('disabled')])),
    overSubscriptionRatio: Type.Optional(Type.Number({ minimum: 1, maximum: 100 })),
    reservedPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 99 })),
  },
  Strict,
);

const AccessModeSchema = Type.Union([Type.Literal('RWO'), Type.Literal('RWOP'), Type.Literal('ROX'), Type.Literal('RWX')]);

export const ProfileConfigSchema = Type.Object(
  {
    name: Name,
    description: Type.Optional(Type.String()),
    minBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    maxBytes: Type.Optional(Type.Integer({ minimum: 1 })),
    volumeMode: Type.Optional(Type.Union([Type.Literal('filesystem'), Type.Literal('block')])),
    fsType: Type.Optional(Type.String()),
    media: Type.Optional(Type.String()),
    qos: Type.Optional(
      Type.Object(
        { iops: Type.Optional(Type.Integer({ minimum: 1 })), bandwidthBytes: Type.Optional(Type.Integer({ minimum: 1 })) },
        Strict,
      ),
    ),
    replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
    accessModes: Type.Optional(Type.Array(AccessModeSchema)),
    poolSelector: Type.Optional(Labels),
    pools: Type.Optional(Type.Array(Name)),
    parameters: Type.Optional(Type.Record(Type.String(), Type.String())),
    services: Type.Optional(Type.Array(Name)),
  },
  Strict,
);

export const ServiceConfigSchema = Type.Object(
  {
    name: Name,
    labels: Type.Optional(Labels),
    /** Tokens registered for the service at start (stored hashed); for agents and automation. */
    tokens: Type.Optional(Type.Array(Type.String({ minLength: 16 }))),
  },
  Strict,
);

export const ConfigFileSchema = Type.Object(
  {
    listen: Type.Optional(Type.String()),
    dataDir: Type.Optional(Type.String()),
    databaseUrl: Type.Optional(Type.String()),
    adminToken: Type.Optional(Type.String({ minLength: 16 })),
    logLevel: Type.Optional(
      Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
    ),
    tls: Type.Optional(Type.Object({ certFile: Type.String(), keyFile: Type.String() }, Strict)),
    /** How long an Idempotency-Key is remembered. */
    idempotencyTtlSeconds: Type.Optional(Type.Integer({ minimum: 60 })),
    /** How long an offer stands before it is re-issued (seconds). */
    offerTtlSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
    /** How long an accepted offer's reservation holds capacity and quota before it lapses (seconds). */
    reservationTtlSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
    /** How long an attachment's lease lasts without a heartbeat from its node (seconds). */
    attachmentLeaseSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
    /** This replica's stable name among replicas sharing one PostgreSQL (default: hostname and data directory). */
    replicaId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** How often every replica records that it is alive (seconds). */
    replicaHeartbeatSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 60 })),
    /** A replica silent this long is dead, and the leader finishes its interrupted intents (seconds). */
    replicaTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 2, maximum: 3600 })),
    /** How often an operation a transient backend failure left in `error` is retried before giving up. */
    errorRetryLimit: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    /** Wait before the first retry of such an operation, doubled for each further retry (seconds). */
    errorRetryBaseSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 86400 })),
    /** The agent `polly server` embeds for its own host (off unless `enabled`). */
    agent: Type.Optional(
      Type.Object(
        {
          enabled: Type.Optional(Type.Boolean()),
          nodeId: Type.Optional(Type.String({ minLength: 1 })),
          topology: Type.Optional(Labels),
          stateDir: Type.Optional(Type.String()),
          /** A service token the agent acts with (default: the admin token). */
          token: Type.Optional(Type.String({ minLength: 16 })),
          csiSocket: Type.Optional(Type.String()),
          dockerSocket: Type.Optional(Type.String()),
        },
        Strict,
      ),
    ),
    /** How often the reconciler looks for unfinished intents (seconds). */
    reconcileIntervalSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
    /** CSI endpoints (Identity + Controller) the server listens on, each optionally bound to one service. */
    csi: Type.Optional(
      Type.Array(
        Type.Object(
          {
            endpoint: Type.String({ description: 'unix:///run/polly/csi.sock or tcp://127.0.0.1:9820' }),
            service: Type.Optional(Name),
          },
          Strict,
        ),
      ),
    ),
    pools: Type.Optional(Type.Array(PoolConfigSchema)),
    profiles: Type.Optional(Type.Array(ProfileConfigSchema)),
    services: Type.Optional(Type.Array(ServiceConfigSchema)),
  },
  Strict,
);

export type ConfigFile = Static<typeof ConfigFileSchema>;
export type PoolConfig = Static<typeof PoolConfigSchema>;
export type ProfileConfig = Static<typeof ProfileConfigSchema>;
export type ServiceConfig = Static<typeof ServiceConfigSchema>;
