import { ERROR_CATALOG } from '../../core/errors.js';
import { MUTATING_METHODS, NOT_IDEMPOTENT } from './idempotency-exclusions.js';

/**
 * Turns the document @fastify/swagger derives from the route schemas into one client generators can
 * use: a stable operationId per route (from the table below, so names never change by accident), every
 * titled schema hoisted into `components.schemas` and referenced, request and response bodies named
 * after their operation, string unions as `enum`, examples, and a description on every response.
 * Structure only: the schemas themselves (bounds, strictness) stay with the routes.
 */

/** `METHOD path` (OpenAPI path syntax) → operationId. A route missing here fails test/api/rest/openapi.test.ts. */
export const OPERATION_IDS: Readonly<Record<string, string>> = {
  'GET /healthz': 'getHealth',
  'GET /readyz': 'getReadiness',
  'GET /v1/identity': 'getIdentity',
  'POST /v1/services': 'createService',
  'GET /v1/services': 'listServices',
  'GET /v1/services/{name}': 'getService',
  'DELETE /v1/services/{name}': 'deleteService',
  'POST /v1/services/{name}/tokens': 'issueServiceToken',
  'GET /v1/services/{name}/quota': 'getQuota',
  'PUT /v1/services/{name}/quota': 'setQuota',
  'GET /v1/pools': 'listPools',
  'POST /v1/pools': 'createPool',
  'GET /v1/pools/{name}': 'getPool',
  'PATCH /v1/pools/{name}': 'updatePool',
  'DELETE /v1/pools/{name}': 'deletePool',
  'GET /v1/pools/{name}/unmanaged': 'listUnmanagedObjects',
  'GET /v1/profiles': 'listProfiles',
  'POST /v1/profiles': 'createProfile',
  'GET /v1/profiles/{name}': 'getProfile',
  'PATCH /v1/profiles/{name}': 'updateProfile',
  'DELETE /v1/profiles/{name}': 'deleteProfile',
  'POST /v1/volumes': 'createVolume',
  'GET /v1/volumes': 'listVolumes',
  'GET /v1/volumes/{id}': 'getVolume',
  'PATCH /v1/volumes/{id}': 'updateVolume',
  'DELETE /v1/volumes/{id}': 'deleteVolume',
  'POST /v1/volumes/{id}/expand': 'expandVolume',
  'POST /v1/volumes/{id}/offer': 'shareVolume',
  'POST /v1/volumes/{id}/revoke': 'unshareVolume',
  'GET /v1/volumes/{id}/shares': 'listVolumeShares',
  'POST /v1/volumes/{id}/transfer': 'transferVolume',
  'POST /v1/volumes/import': 'importVolume',
  'POST /v1/volumes/{id}/release': 'releaseVolume',
  'POST /v1/volumes/{id}/snapshots': 'createSnapshot',
  'GET /v1/snapshots': 'listSnapshots',
  'GET /v1/snapshots/{id}': 'getSnapshot',
  'DELETE /v1/snapshots/{id}': 'deleteSnapshot',
  'POST /v1/group-snapshots': 'createGroupSnapshot',
  'GET /v1/group-snapshots': 'listGroupSnapshots',
  'GET /v1/group-snapshots/{id}': 'getGroupSnapshot',
  'DELETE /v1/group-snapshots/{id}': 'deleteGroupSnapshot',
  'POST /v1/volumes/{id}/attachments': 'attachVolume',
  'GET /v1/attachments': 'listAttachments',
  'GET /v1/attachments/{id}': 'getAttachment',
  'DELETE /v1/attachments/{id}': 'detachVolume',
  'POST /v1/nodes': 'registerNode',
  'GET /v1/nodes': 'listNodes',
  'GET /v1/nodes/{id}': 'getNode',
  'POST /v1/nodes/{id}/heartbeat': 'heartbeatNode',
  'POST /v1/nodes/{id}/credentials': 'createNodeCredential',
  'POST /v1/nodes/{id}/fence': 'fenceNode',
  'POST /v1/nodes/{id}/unfence': 'unfenceNode',
  'POST /v1/nodes/{id}/self-fence': 'reportNodeSelfFence',
  'GET /mesos/disk-profiles': 'getMesosDiskProfiles',
  'GET /v1/events': 'listEvents',
  'GET /v1/offers': 'listOffers',
  'POST /v1/offers/{id}/accept': 'acceptOffer',
  'POST /v1/offers/{id}/decline': 'declineOffer',
  'POST /v1/offers/{id}/revoke': 'revokeOffer',
  'GET /v1/reservations': 'listReservations',
  'GET /v1/reservations/{id}': 'getReservation',
  'DELETE /v1/reservations/{id}': 'releaseReservation',
  'POST /v1/placement/explain': 'explainPlacement',
};

const TAGS: Array<{ name: string; description: string }> = [
  { name: 'health', description: 'Liveness and readiness (no token)' },
  { name: 'services', description: 'Tenants and their bearer tokens' },
  { name: 'quotas', description: 'Per-service limits and usage' },
  { name: 'pools', description: 'Places where a driver creates volumes, with real capacity' },
  { name: 'profiles', description: 'Storage classes' },
  { name: 'volumes', description: 'Volumes: create, list, change, share, transfer, import' },
  { name: 'snapshots', description: 'Point-in-time copies of volumes' },
  { name: 'group-snapshots', description: 'Snapshots of several volumes taken together, deleted together' },
  { name: 'attachments', description: 'Volume × node leases with fencing tokens' },
  { name: 'nodes', description: 'Hosts running an agent' },
  { name: 'events', description: 'The audit stream (JSON pages or Server-Sent Events)' },
  { name: 'offers', description: 'Capacity offered to services, and the reservations accepting one makes' },
  { name: 'placement', description: 'Why a volume lands where it does' },
];

/** Error responses by status: a shared `components.responses` entry each, with why it happens. */
const ERROR_RESPONSES: Record<string, { name: string; description: string }> = {
  '400': { name: 'BadRequest', description: 'Invalid request (VALIDATION_FAILED, INVALID_JSON, INVALID_CURSOR)' },
  '401': { name: 'Unauthenticated', description: 'Missing or unknown bearer token (UNAUTHENTICATED)' },
  '403': { name: 'Forbidden', description: 'Not allowed for this identity (FORBIDDEN) or over quota (QUOTA_EXCEEDED)' },
  '404': { name: 'NotFound', description: 'No such object visible to the caller (VOLUME_NOT_FOUND, POOL_NOT_FOUND, …)' },
  '409': { name: 'Conflict', description: 'Conflicts with the current state (name taken, busy, in use, closed: INVALID_STATE, VOLUME_BUSY, …)' },
  '413': { name: 'PayloadTooLarge', description: 'Request body too large (PAYLOAD_TOO_LARGE)' },
  '415': { name: 'UnsupportedMediaType', description: 'Unsupported content type (UNSUPPORTED_MEDIA_TYPE)' },
  '422': { name: 'Unprocessable', description: 'Understood but not satisfiable (NO_MATCHING_POOL, UNSUPPORTED, IDEMPOTENCY_KEY_REUSED)' },
  '500': { name: 'InternalError', description: 'Internal error (INTERNAL); details are in the server log' },
  '502': { name: 'BackendFailed', description: 'The storage backend failed (BACKEND_FAILED)' },
  '503': { name: 'Unavailable', description: 'Not ready: the store is unreachable (UNAVAILABLE)' },
  '507': { name: 'InsufficientCapacity', description: 'No pool has the capacity (NO_CAPACITY)' },
};

/** The header every mutating operation but those in NOT_IDEMPOTENT honours (components.parameters). */
const IDEMPOTENCY_KEY_PARAMETER = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes the request safe to retry (1 to 255 characters, scoped to the caller): a repeat with the same key and request gets the first reply again, ' +
    'with `Idempotent-Replayed: true`, and changes nothing; the same key with another request is refused (IDEMPOTENCY_KEY_REUSED); ' +
    'while the first still runs, 409 IDEMPOTENCY_IN_PROGRESS with Retry-After.',
  schema: { type: 'string', minLength: 1, maxLength: 255 },
};

const SUCCESS_DESCRIPTIONS: Record<string, string> = { '200': 'OK', '201': 'Created', '204': 'Done; no body' };

/** Examples for named schemas, shown by documentation tools and used by mock servers. */
const EXAMPLES: Record<string, unknown> = {
  Error: { error: { code: 'VOLUME_NOT_FOUND', message: 'volume pg-data not found' } },
  CreateVolumeRequest: { name: 'pg-data', sizeBytes: 10737418240, profile: 'default', labels: { app: 'postgres' } },
  Volume: {
    id: 'vol_01J9Z3Q4X8',
    name: 'pg-data',
    service: 'k8s-prod',
    pool: 'fast',
    profile: 'default',
    sizeBytes: 10737418240,
    status: 'available',
    statusReason: null,
    labels: { app: 'postgres' },
    fields: {},
    source: null,
    createdAt: '2026-12-01T10:00:00.000Z',
    updatedAt: '2026-12-01T10:00:00.000Z',
  },
};

type Json = Record<string, unknown>;
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const pascal = (id: string): string => id.charAt(0).toUpperCase() + id.slice(1);

/** An `anyOf` of string constants (what TypeBox makes of a union of literals) as one `enum`. */
function literalUnionToEnum(schema: Json): Json {
  const variants = schema.anyOf;
  if (!Array.isArray(variants) || variants.length === 0) return schema;
  // @fastify/swagger writes a literal as `{const: x}` or as `{enum: [x]}`.
  const literal = (v: unknown): string | undefined => {
    if (!isObject(v) || !Object.keys(v).every((k) => k === 'const' || k === 'enum' || k === 'type')) return undefined;
    if (typeof v.const === 'string') return v.const;
    return Array.isArray(v.enum) && v.enum.length === 1 && typeof v.enum[0] === 'string' ? v.enum[0] : undefined;
  };
  const values = variants.map(literal);
  if (values.some((v) => v === undefined)) return schema;
  const { anyOf: _anyOf, ...rest } = schema;
  return { type: 'string', enum: values, ...rest };
}

class ComponentRegistry {
  readonly schemas: Record<string, Json> = {};

  /** Rewrites a schema tree bottom-up: titled objects become `$ref`s to one shared component. */
  hoist(node: unknown): unknown {
    if (Array.isArray(node)) return node.map((n) => this.hoist(n));
    if (!isObject(node)) return node;
    let out: Json = {};
    for (const [key, value] of Object.entries(node)) {
      // Examples, defaults and enum values are data, not schemas.
      out[key] = key === 'examples' || key === 'example' || key === 'default' || key === 'enum' || key === 'const' ? value : this.hoist(value);
    }
    out = literalUnionToEnum(out);
    const title = out.title;
    if (typeof title === 'string' && /^[A-Z][A-Za-z0-9]*$/.test(title)) return this.register(title, out);
    return out;
  }

  /** Names a schema (unless it already is a `$ref`) and returns the reference. */
  register(name: string, schema: Json): Json {
    if (typeof schema.$ref === 'string') return schema;
    const { title: _title, ...body } = schema;
    const existing = this.schemas[name];
    if (existing && JSON.stringify(existing) !== JSON.stringify(body)) {
      throw new Error(`OpenAPI: two different schemas are both named ${name}`);
    }
    this.schemas[name] = body;
    return { $ref: `#/components/schemas/${name}` };
  }
}

function mediaSchemas(content: unknown): Json[] {
  if (!isObject(content)) return [];
  return Object.values(content).filter(isObject);
}

/** A response body `{items: [X]}` is `XList`; with `nextCursor` it is `XPage`. */
function listName(schema: Json): string | undefined {
  const props = schema.properties;
  if (!isObject(props) || !isObject(props.items)) return undefined;
  const ref = (props.items.items as Json | undefined)?.$ref;
  if (typeof ref !== 'string') return undefined;
  const item = ref.split('/').pop() ?? '';
  const keys = Object.keys(props).sort().join(',');
  if (keys === 'items') return `${item}List`;
  if (keys === 'items,nextCursor') return `${item}Page`;
  return undefined;
}

/** Finishes the generated document (see the file comment). Pure: returns a new object. */
export function finishOpenApiDocument<T extends object>(input: T): T {
  const doc = structuredClone(input) as Json;
  const registry = new ComponentRegistry();
  const paths = isObject(doc.paths) ? doc.paths : {};
  const missing: string[] = [];
  const sharedResponses: Record<string, Json> = {};

  for (const [path, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (!isObject(op)) continue;
      const key = `${method.toUpperCase()} ${path}`;
      const operationId = OPERATION_IDS[key];
      if (!operationId) missing.push(key);
      op.operationId = operationId ?? `${method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`;
      const opName = pascal(String(op.operationId));
      if (!op.summary) op.summary = opName.replace(/([a-z])([A-Z])/g, '$1 $2');

      if (Array.isArray(op.parameters)) {
        for (const p of op.parameters) if (isObject(p) && isObject(p.schema)) p.schema = registry.hoist(p.schema);
      }
      if (MUTATING_METHODS.includes(method) && NOT_IDEMPOTENT[key] === undefined) {
        op.parameters = [...(Array.isArray(op.parameters) ? op.parameters : []), { $ref: '#/components/parameters/IdempotencyKey' }];
      }
      const requestBody = op.requestBody;
      if (isObject(requestBody)) {
        for (const media of mediaSchemas(requestBody.content)) {
          const schema = registry.hoist(media.schema);
          media.schema = isObject(schema) && !schema.$ref && schema.type === 'object' ? registry.register(`${opName}Request`, schema) : schema;
        }
      }
      const responses = isObject(op.responses) ? op.responses : {};
      for (const [status, response] of Object.entries(responses)) {
        if (!isObject(response)) continue;
        const shared = ERROR_RESPONSES[status];
        if (shared) {
          for (const media of mediaSchemas(response.content)) registry.hoist(media.schema);
          sharedResponses[shared.name] = { description: shared.description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
          responses[status] = { $ref: `#/components/responses/${shared.name}` };
          continue;
        }
        if (!response.description || response.description === 'Default Response') {
          response.description = SUCCESS_DESCRIPTIONS[status] ?? 'Response';
        }
        for (const media of mediaSchemas(response.content)) {
          const schema = registry.hoist(media.schema);
          if (!isObject(schema) || schema.$ref || schema.type !== 'object') {
            media.schema = schema;
            continue;
          }
          media.schema = registry.register(listName(schema) ?? `${opName}Response`, schema);
        }
        // 204 and null bodies carry no content.
        if (status === '204') delete response.content;
      }
    }
  }
  if (missing.length > 0) doc['x-missing-operation-ids'] = missing;

  for (const [name, example] of Object.entries(EXAMPLES)) {
    const schema = registry.schemas[name];
    if (schema) schema.examples = [example];
  }
  const errorCode = registry.schemas.ErrorCode;
  if (errorCode) errorCode.description = `stable error code; HTTP status per code: ${Object.entries(ERROR_CATALOG).map(([c, e]) => `${c} ${e.httpStatus}`).join(', ')}`;

  const components = isObject(doc.components) ? doc.components : {};
  components.schemas = Object.fromEntries(Object.entries(registry.schemas).sort(([a], [b]) => a.localeCompare(b)));
  components.responses = Object.fromEntries(Object.entries(sharedResponses).sort(([a], [b]) => a.localeCompare(b)));
  components.parameters = { IdempotencyKey: IDEMPOTENCY_KEY_PARAMETER };
  doc.components = components;
  doc.tags = TAGS;
  return doc as T;
}
