import { Type, type Static } from 'typebox';
import { NAME_PATTERN } from '../core/names.js';

const Name = Type.String({ pattern: NAME_PATTERN });
/** Bounds every list and map of the documents, so no request or file can be made arbitrarily large. */
const MAX_ENTRIES = 64;
const MAX_NAMES = 256;
const MAX_BYTES = 2 ** 53;
const Labels = Type.Record(Type.String({ maxLength: 317 }), Type.String({ maxLength: 1024 }), { maxProperties: MAX_ENTRIES });
const Parameters = Type.Record(Type.String({ maxLength: 128 }), Type.String({ maxLength: 4096 }), { maxProperties: MAX_ENTRIES });
const Strict = { additionalProperties: false } as const;

export const TopologySchema = Type.Object(
  {
    zone: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    nodes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: MAX_NAMES })),
    shared: Type.Optional(Type.Boolean()),
  },
  Strict,
);

export const PoolConfigSchema = Type.Object(
  {
    name: Name,
    driver: Type.String({ minLength: 1, maxLength: 64 }),
    /** Shorthand for parameters.path, for path-based drivers. */
    path: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    parameters: Type.Optional(Parameters),
    labels: Type.Optional(Labels),
    topology: Type.Optional(TopologySchema),
    state: Type.Optional(Type.Union([Type.Literal('enabled'), Type.Literal('draining'), Type.Literal('disabled')])),
    overSubscriptionRatio: Type.Optional(Type.Number({ minimum: 1, maximum: 100 })),
    reservedPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 99 })),
  },
  Strict,
);

const AccessModeSchema = Type.Union([Type.Literal('RWO'), Type.Literal('RWOP'), Type.Literal('ROX'), Type.Literal('RWX')]);

/** The settable fields of a profile, each bounded; `media: null` means "any media" (what GET shows). */
const profileFields = {
  description: Type.Optional(Type.String({ maxLength: 1024 })),
  minBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_BYTES })),
  maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BYTES })),
  volumeMode: Type.Optional(Type.Union([Type.Literal('filesystem'), Type.Literal('block')])),
  fsType: Type.Optional(Type.String({ pattern: '^[a-z0-9]{1,16}$', description: 'ext4, xfs, btrfs, …' })),
  media: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
  qos: Type.Optional(
    Type.Object(
      {
        iops: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e9 })),
        bandwidthBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BYTES })),
      },
      Strict,
    ),
  ),
  replicas: Type.Optional(Type.Integer({ minimum: 1, maximum: 16 })),
  failover: Type.Optional(
    Type.Union([Type.Literal('safe'), Type.Literal('storage-fence'), Type.Literal('force-after')], {
      description: 'when a RWO/RWOP volume may move from a silent node: safe (release, self-fence report or operator fence), storage-fence (also a fence at the storage), force-after (also forceAfterSeconds after the lease)',
    }),
  ),
  forceAfterSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86400 })),
  accessModes: Type.Optional(Type.Array(AccessModeSchema, { minItems: 1, maxItems: 4, uniqueItems: true })),
  poolSelector: Type.Optional(Labels),
  pools: Type.Optional(Type.Array(Name, { maxItems: MAX_NAMES, uniqueItems: true })),
  parameters: Type.Optional(Parameters),
  services: Type.Optional(Type.Array(Name, { maxItems: MAX_NAMES, uniqueItems: true })),
};

export const ProfileConfigSchema = Type.Object({ name: Name, ...profileFields }, Strict);

/**
 * A PATCH of a profile: as strict as a create, every field optional. `name` and `createdAt` are accepted
 * so that what GET returned can be sent back (read-modify-write), and must then be unchanged.
 */
export const ProfilePatchSchema = Type.Object(
  { name: Type.Optional(Name), createdAt: Type.Optional(Type.String({ maxLength: 64 })), ...profileFields },
  Strict,
);
export type ProfilePatch = Static<typeof ProfilePatchSchema>;

export const ServiceConfigSchema = Type.Object(
  {
    name: Name,
    labels: Type.Optional(Labels),
    /** Tokens registered for the service at start (stored hashed); for agents and automation. */
    tokens: Type.Optional(Type.Array(Type.String({ minLength: 16, maxLength: 512 }), { maxItems: MAX_ENTRIES })),
  },
  Strict,
);

export const OsbCredentialSchema = Type.Object(
  {
    username: Type.String({ minLength: 1 }),
    /** The password in clear (prefer passwordHash or passwordFile). */
    password: Type.Optional(Type.String({ minLength: 12 })),
    /** `sha256:<hex>` of the password. */
    passwordHash: Type.Optional(Type.String({ pattern: '^sha256:[0-9a-f]{64}$' })),
    /** A file holding the password (a Kubernetes/BOSH secret mount). */
    passwordFile: Type.Optional(Type.String()),
    /** The Polly service (tenant) this credential acts for, e.g. one per CF space. */
    service: Name,
  },
  Strict,
);

export const OsbConfigSchema = Type.Object(
  {
    listen: Type.String({ description: 'host:port, e.g. 0.0.0.0:7979' }),
    credentials: Type.Array(OsbCredentialSchema, { minItems: 1 }),
    /** The service offering's name in the marketplace (default polly). */
    serviceName: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' })),
    /** The service offering's id (default a stable UUID). */
    serviceId: Type.Optional(Type.String({ minLength: 1 })),
    /** The volume driver name cells know the agent's plugin by (default polly). */
    driver: Type.Optional(Type.String({ minLength: 1 })),
    /** Serve with the server's TLS certificate (default: when `tls` is set). */
    tls: Type.Optional(Type.Boolean()),
  },
  Strict,
);

export const NodeCredentialConfigSchema = Type.Object(
  {
    node: Name,
    token: Type.Optional(Type.String({ minLength: 16 })),
    tokenFile: Type.Optional(Type.String()),
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
    /** The agent fences itself this long before its lease ends, counted from its last successful renewal (seconds). */
    selfFenceMarginSeconds: Type.Optional(Type.Number({ minimum: 0 })),
    /** Another node is granted a volume no sooner than this long after the holder's lease ended (seconds). */
    clockSkewSeconds: Type.Optional(Type.Number({ minimum: 0 })),
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
            /** Serve TLS with the server's certificate (default: on for tcp endpoints when `tls` is set). */
            tls: Type.Optional(Type.Boolean()),
          },
          Strict,
        ),
      ),
    ),
    pools: Type.Optional(Type.Array(PoolConfigSchema)),
    profiles: Type.Optional(Type.Array(ProfileConfigSchema)),
    services: Type.Optional(Type.Array(ServiceConfigSchema)),
    /** The Open Service Broker (Cloud Foundry) on its own listener. */
    osb: Type.Optional(OsbConfigSchema),
    /** Node credentials registered at start: an agent with one serves every service's volumes on its node. */
    nodeCredentials: Type.Optional(Type.Array(NodeCredentialConfigSchema)),
  },
  Strict,
);

export type ConfigFile = Static<typeof ConfigFileSchema>;
export type PoolConfig = Static<typeof PoolConfigSchema>;
export type ProfileConfig = Static<typeof ProfileConfigSchema>;
export type ServiceConfig = Static<typeof ServiceConfigSchema>;
export type OsbConfig = Static<typeof OsbConfigSchema>;
export type NodeCredentialConfig = Static<typeof NodeCredentialConfigSchema>;
