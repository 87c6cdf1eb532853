import { planIdOf, stableUuid } from '../../app/broker.js';
import type { Profile } from '../../core/types.js';
import { formatSize } from '../../cli/sizes.js';

export interface CatalogOptions {
  serviceName: string;
  serviceId: string;
  /** The Polly service of the credential asking (plan ids are per service). */
  service: string;
}

/** The offering's id for one credential's service: unique per registration, as CF needs. */
export function defaultServiceId(serviceName: string, service: string): string {
  return stableUuid(`service:${serviceName}:${service}`);
}

/** The `size` parameter: a number of bytes or a human size (10GiB, 512MiB, 100GB). */
const SizeSchema = {
  description: 'Volume size: a number of bytes or a size such as 10GiB, 512MiB, 100GB',
  oneOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', pattern: '^\\s*([0-9]+(\\.[0-9]+)?|\\.[0-9]+)\\s*[A-Za-z]*\\s*$' },
  ],
};

function plan(p: Profile, service: string) {
  const sizes = `${formatSize(p.minBytes)} to ${formatSize(p.maxBytes)}`;
  const bullets = [`${p.volumeMode === 'block' ? 'raw block' : p.fsType} volumes of ${sizes}`, `access modes ${p.accessModes.join(', ')}`];
  if (p.media) bullets.push(`${p.media} media`);
  if (p.qos.iops) bullets.push(`${p.qos.iops} IOPS`);
  return {
    id: planIdOf(service, p.name),
    name: p.name,
    description: p.description || `Polly profile ${p.name}: ${sizes}`,
    free: true,
    bindable: true,
    plan_updateable: true,
    metadata: { displayName: p.name, bullets, minBytes: p.minBytes, maxBytes: p.maxBytes, accessModes: p.accessModes },
    schemas: {
      service_instance: {
        create: {
          parameters: {
            $schema: 'http://json-schema.org/draft-04/schema#',
            type: 'object',
            additionalProperties: false,
            properties: { size: SizeSchema },
          },
        },
        update: {
          parameters: {
            $schema: 'http://json-schema.org/draft-04/schema#',
            type: 'object',
            additionalProperties: false,
            properties: { size: { ...SizeSchema, description: 'New, larger size (volumes grow, never shrink)' } },
          },
        },
      },
      service_binding: {
        create: {
          parameters: {
            $schema: 'http://json-schema.org/draft-04/schema#',
            type: 'object',
            additionalProperties: false,
            properties: {
              mount: { type: 'string', pattern: '^/', description: 'Path in the app container (default /var/vcap/data/<instance id>)' },
              readonly: { type: 'boolean', description: 'Mount read-only' },
            },
          },
        },
      },
    },
  };
}

/** One service offering, Polly's profiles (those the credential's service may use) as its plans. */
export function buildCatalog(profiles: Profile[], opts: CatalogOptions) {
  return {
    services: [
      {
        name: opts.serviceName,
        id: opts.serviceId,
        description: 'Persistent volumes from Polly, mounted into app containers by the Polly agent on each cell',
        tags: ['polly', 'volume', 'storage'],
        requires: ['volume_mount'],
        bindable: true,
        instances_retrievable: true,
        bindings_retrievable: true,
        allow_context_updates: false,
        plan_updateable: true,
        metadata: { displayName: 'Polly volumes', providerDisplayName: 'Polly' },
        plans: profiles.map((p) => plan(p, opts.service)),
      },
    ],
  };
}
