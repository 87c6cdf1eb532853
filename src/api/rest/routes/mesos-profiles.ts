import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { PollyApp } from '../../../app/polly-app.js';
import type { AccessMode } from '../../../core/ports/driver.js';
import type { Identity, Profile } from '../../../core/types.js';
import { errorResponses } from '../schemas.js';

/** The CSI plugin type Mesos knows Polly by (CSIPluginInfo.type), unless the query names another. */
export const MESOS_PLUGIN_TYPE = 'io.polly.csi';

/** Mesos' csi.v0 access modes; a profile offers the first that Mesos' single-capability profiles can use. */
const MODES: Array<[AccessMode, string]> = [
  ['RWO', 'SINGLE_NODE_WRITER'],
  ['RWOP', 'SINGLE_NODE_WRITER'],
  ['RWX', 'MULTI_NODE_MULTI_WRITER'],
  ['ROX', 'MULTI_NODE_READER_ONLY'],
];

/**
 * One entry of Mesos' DiskProfileMapping (src/resource_provider/storage/disk_profile.proto): the
 * capability a storage local resource provider creates and publishes volumes of this profile with, and
 * the CreateVolume parameters that make Polly's CSI controller use the profile.
 */
function manifest(p: Profile, pluginType: string) {
  const mode = MODES.find(([m]) => p.accessModes.includes(m))?.[1] ?? 'SINGLE_NODE_WRITER';
  return {
    csi_plugin_type_selector: { plugin_type: pluginType },
    volume_capabilities: { ...(p.volumeMode === 'block' ? { block: {} } : { mount: { fs_type: p.fsType } }), access_mode: { mode } },
    create_parameters: { profile: p.name },
  };
}

export function mesosProfileRoutes(app: PollyApp): FastifyPluginAsyncTypebox {
  return async (r) => {
    r.get(
      '/mesos/disk-profiles',
      {
        schema: {
          tags: ['mesos'],
          summary: "Polly profiles as the DiskProfileMapping JSON that Mesos' URI disk profile adaptor polls",
          description:
            'Mesos polls without credentials: then only profiles open to every service are listed. With a bearer token, the profiles that token may use.',
          security: [],
          querystring: Type.Object({ plugin_type: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false }),
          response: { 200: Type.Object({ profile_matrix: Type.Record(Type.String(), Type.Unknown()) }), ...errorResponses },
        },
      },
      async (req) => {
        const header = req.headers.authorization;
        const identity: Identity | undefined = header?.startsWith('Bearer ') ? await app.services.authenticate(header.slice(7).trim()) : undefined;
        const profiles = identity ? await app.profiles.list(identity) : (await app.profiles.list({ kind: 'admin' })).filter((p) => p.services.length === 0);
        const pluginType = req.query.plugin_type ?? MESOS_PLUGIN_TYPE;
        return { profile_matrix: Object.fromEntries(profiles.map((p) => [p.name, manifest(p, pluginType)])) };
      },
    );
  };
}
