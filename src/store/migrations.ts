import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { StoreDialect } from './store.js';

/**
 * Schema migrations, in code, applied at start. Never edit a migration that has shipped: add a new one.
 * Each is built for the dialect in use because auto-increment keys differ between the engines.
 */
export function migrationsFor(dialect: StoreDialect): Record<string, Migration> {
  return {
    '0001-foundation': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('meta')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('services')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('labels', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('tokens')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('hash', 'text', (c) => c.notNull().unique())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.references('services.name').onDelete('cascade'))
          .addColumn('description', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('tokens_service').on('tokens').column('service').execute();
        await db.schema
          .createTable('pools')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('driver', 'text', (c) => c.notNull())
          .addColumn('parameters', 'text', (c) => c.notNull())
          .addColumn('labels', 'text', (c) => c.notNull())
          .addColumn('topology', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('over_subscription_ratio', 'double precision', (c) => c.notNull())
          .addColumn('reserved_percent', 'double precision', (c) => c.notNull())
          .addColumn('allocated_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('volume_count', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('profiles')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('spec', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('volumes')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull().references('services.name'))
          .addColumn('pool', 'text', (c) => c.notNull().references('pools.name'))
          .addColumn('profile', 'text', (c) => c.notNull())
          .addColumn('size_bytes', 'bigint', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('status_reason', 'text')
          .addColumn('labels', 'text', (c) => c.notNull())
          .addColumn('fields', 'text', (c) => c.notNull())
          .addColumn('backend_id', 'text', (c) => c.notNull())
          .addColumn('source_kind', 'text')
          .addColumn('source_id', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('volumes_service_name', ['service', 'name'])
          .execute();
        await db.schema.createIndex('volumes_service_id').on('volumes').columns(['service', 'id']).execute();
        await db.schema.createIndex('volumes_pool').on('volumes').columns(['pool', 'id']).execute();
        await db.schema.createIndex('volumes_status').on('volumes').columns(['status']).execute();
        await db.schema
          .createTable('volume_tags')
          .addColumn('volume_id', 'text', (c) => c.notNull().references('volumes.id').onDelete('cascade'))
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('volume_tags_pk', ['volume_id', 'kind', 'key'])
          .execute();
        await db.schema.createIndex('volume_tags_lookup').on('volume_tags').columns(['kind', 'key', 'value', 'volume_id']).execute();
        await db.schema
          .createTable('snapshots')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull().references('services.name'))
          .addColumn('volume_id', 'text', (c) => c.notNull())
          .addColumn('pool', 'text', (c) => c.notNull().references('pools.name'))
          .addColumn('size_bytes', 'bigint', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('status_reason', 'text')
          .addColumn('backend_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('snapshots_service_name', ['service', 'name'])
          .execute();
        await db.schema.createIndex('snapshots_volume').on('snapshots').columns(['volume_id']).execute();
        await db.schema.createIndex('snapshots_status').on('snapshots').columns(['status']).execute();
        await db.schema
          .createTable('events')
          .addColumn('seq', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
            dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('service', 'text')
          .addColumn('object_id', 'text', (c) => c.notNull())
          .addColumn('data', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('events_service_seq').on('events').columns(['service', 'seq']).execute();
        await db.schema
          .createTable('idempotency_keys')
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('response_status', 'integer')
          .addColumn('response_body', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('idempotency_keys_pk', ['owner', 'key'])
          .execute();
        await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute();
        // A marker that the schema was created by this code base, for humans poking at the database.
        await sql`insert into meta (key, value) values ('schema', 'polly')`.execute(db);
      },
    },
    '0002-scheduling': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('service_quotas')
          .addColumn('service', 'text', (c) => c.primaryKey().references('services.name').onDelete('cascade'))
          .addColumn('max_volumes', 'bigint')
          .addColumn('max_bytes', 'bigint')
          .addColumn('max_snapshots', 'bigint')
          .addColumn('profile_bytes', 'text', (c) => c.notNull())
          .execute();
        // Usage counters per service and profile, changed in the same transaction as the objects they
        // count, so quota checks read a few rows instead of scanning volumes.
        await db.schema
          .createTable('service_usage')
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('profile', 'text', (c) => c.notNull())
          .addColumn('volumes', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('snapshots', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('reserved_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('service_usage_pk', ['service', 'profile'])
          .execute();
        await sql`insert into service_usage (service, profile, volumes, bytes, snapshots, reserved_bytes)
                  select service, profile, count(*), sum(size_bytes), 0, 0 from volumes group by service, profile`.execute(db);
        await sql`insert into service_usage (service, profile, volumes, bytes, snapshots, reserved_bytes)
                  select service, '', 0, 0, count(*), 0 from snapshots group by service`.execute(db);
        await db.schema
          .createTable('offers')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('service', 'text', (c) => c.notNull().references('services.name').onDelete('cascade'))
          .addColumn('pool', 'text', (c) => c.notNull().references('pools.name').onDelete('cascade'))
          .addColumn('profile', 'text', (c) => c.notNull())
          .addColumn('zone', 'text')
          .addColumn('max_bytes', 'bigint', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('offers_service_status').on('offers').columns(['service', 'status']).execute();
        await db.schema.createIndex('offers_status_expiry').on('offers').columns(['status', 'expires_at']).execute();
        await db.schema
          .createTable('reservations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('offer_id', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull().references('services.name').onDelete('cascade'))
          .addColumn('pool', 'text', (c) => c.notNull().references('pools.name'))
          .addColumn('profile', 'text', (c) => c.notNull())
          .addColumn('size_bytes', 'bigint', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('volume_id', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('reservations_status_expiry').on('reservations').columns(['status', 'expires_at']).execute();
        await db.schema.createIndex('reservations_service').on('reservations').columns(['service', 'status']).execute();
        await db.schema
          .createTable('volume_shares')
          .addColumn('volume_id', 'text', (c) => c.notNull().references('volumes.id').onDelete('cascade'))
          .addColumn('service', 'text', (c) => c.notNull().references('services.name').onDelete('cascade'))
          .addColumn('access', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('volume_shares_pk', ['volume_id', 'service'])
          .execute();
        await db.schema.createIndex('volume_shares_service').on('volume_shares').columns(['service', 'volume_id']).execute();
      },
    },
    '0003-attachments': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('nodes')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('hostname', 'text', (c) => c.notNull())
          .addColumn('topology', 'text', (c) => c.notNull())
          .addColumn('last_heartbeat_at', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('volume_fencing')
          .addColumn('volume_id', 'text', (c) => c.primaryKey())
          .addColumn('token', 'bigint', (c) => c.notNull())
          .execute();
        // exclusive_key holds the volume id while a RWO/RWOP attachment is live, live_key volume|node|service
        // while any is: unique indexes make "one live RWO attachment" the database's rule (NULLs never clash).
        await db.schema
          .createTable('attachments')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('volume_id', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('node', 'text', (c) => c.notNull().references('nodes.id'))
          .addColumn('access_mode', 'text', (c) => c.notNull())
          .addColumn('read_only', 'integer', (c) => c.notNull())
          .addColumn('fencing_token', 'bigint', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('exclusive_key', 'text', (c) => c.unique())
          .addColumn('live_key', 'text', (c) => c.unique())
          .addColumn('lease_expires_at', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('ended_at', 'text')
          .execute();
        await db.schema.createIndex('attachments_volume_status').on('attachments').columns(['volume_id', 'status']).execute();
        await db.schema.createIndex('attachments_node_status').on('attachments').columns(['node', 'status']).execute();
      },
    },
    '0004-node-owner': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('nodes').addColumn('registered_by', 'text').execute();
      },
    },
    '0005-owners-and-recovery': {
      async up(db: Kysely<unknown>): Promise<void> {
        // Replicas alive now: an intent or idempotency record whose owner is not here (or is silent) is
        // a crash's leftover, finished at once instead of after a fixed grace period.
        await db.schema
          .createTable('replicas')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('incarnation', 'text', (c) => c.notNull().unique())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('heartbeat_at', 'text', (c) => c.notNull())
          .execute();
        for (const table of ['volumes', 'snapshots']) {
          await db.schema.alterTable(table).addColumn('intent_owner', 'text').execute();
          await db.schema.alterTable(table).addColumn('failed_op', 'text').execute();
          await db.schema.alterTable(table).addColumn('failure_code', 'text').execute();
          await db.schema.alterTable(table).addColumn('failure_message', 'text').execute();
          await db.schema.alterTable(table).addColumn('retries', 'integer', (c) => c.notNull().defaultTo(0)).execute();
          await db.schema.alterTable(table).addColumn('retry_at', 'text').execute();
        }
        await db.schema.alterTable('idempotency_keys').addColumn('replica', 'text').execute();
        await db.schema.alterTable('idempotency_keys').addColumn('resource_kind', 'text').execute();
        await db.schema.alterTable('idempotency_keys').addColumn('resource_op', 'text').execute();
        await db.schema.alterTable('idempotency_keys').addColumn('resource_id', 'text').execute();
      },
    },
    // Open Service Broker instances and bindings, and node credentials (a token bound to one node).
    '0006-osb-and-node-credentials': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('tokens').addColumn('node', 'text').execute();
        await db.schema
          .createTable('osb_instances')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('service_id', 'text', (c) => c.notNull())
          .addColumn('plan_id', 'text', (c) => c.notNull())
          .addColumn('profile', 'text', (c) => c.notNull())
          .addColumn('size_bytes', 'bigint', (c) => c.notNull())
          .addColumn('volume_name', 'text', (c) => c.notNull())
          .addColumn('volume_id', 'text')
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('operation', 'text')
          .addColumn('operation_kind', 'text')
          .addColumn('operation_state', 'text')
          .addColumn('operation_description', 'text')
          .addColumn('parameters', 'text', (c) => c.notNull())
          .addColumn('context', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('osb_bindings')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('instance_id', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('volume_id', 'text', (c) => c.notNull())
          .addColumn('app_guid', 'text', (c) => c.notNull())
          .addColumn('parameters', 'text', (c) => c.notNull())
          .addColumn('volume_mounts', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('osb_bindings_volume').on('osb_bindings').column('volume_id').execute();
        await db.schema.createIndex('osb_bindings_instance').on('osb_bindings').column('instance_id').execute();
      },
    },
    // Node fencing: an operator's confirmation that a node is down, and the agent's self-fence reports.
    '0007-node-fence': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('nodes').addColumn('fenced_at', 'text').execute();
        await db.schema.alterTable('nodes').addColumn('fenced_by', 'text').execute();
        await db.schema.alterTable('nodes').addColumn('fence_reason', 'text').execute();
        await db.schema.alterTable('nodes').addColumn('self_fenced_at', 'text').execute();
        await db.schema.alterTable('nodes').addColumn('co_registrants', 'text').execute();
      },
    },
    // Who did it: every event names its actor (service + token id, admin, node, or system/<component>)
    // and the REST request id it came from. Older rows have neither (null).
    '0008-event-actor': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('events').addColumn('actor', 'text').execute();
        await db.schema.alterTable('events').addColumn('request_id', 'text').execute();
      },
    },
    // Networked drivers: the connector a node registers (addresses, client identity) and the publish
    // context the pool's controller half answered for an attachment (JSON; null for older rows).
    '0010-connectors-and-publish-context': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema.alterTable('nodes').addColumn('connector', 'text').execute();
        await db.schema.alterTable('attachments').addColumn('publish_context', 'text').execute();
      },
    },
    // Group snapshots: one row per group, its member snapshots point at it.
    '0011-group-snapshots': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('group_snapshots')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('volume_ids', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('status_reason', 'text')
          .addColumn('intent_owner', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('group_snapshots_service_name', ['service', 'name'])
          .execute();
        await db.schema.createIndex('group_snapshots_status').on('group_snapshots').column('status').execute();
        await db.schema.alterTable('snapshots').addColumn('group_id', 'text').execute();
        await db.schema.createIndex('snapshots_group').on('snapshots').column('group_id').execute();
      },
    },
  };
}

export class InCodeMigrationProvider implements MigrationProvider {
  readonly #dialect: StoreDialect;
  constructor(dialect: StoreDialect) {
    this.#dialect = dialect;
  }
  async getMigrations(): Promise<Record<string, Migration>> {
    return migrationsFor(this.#dialect);
  }
}
