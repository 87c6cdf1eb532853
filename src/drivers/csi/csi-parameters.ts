import { Type } from 'typebox';
import { PollyError } from '../../core/errors.js';
import type { AccessMode, ExpandMode } from '../../core/ports/driver.js';
import { poolParameterSchema, REDACTED, secretParameter, wholeNumberParameter } from '../system/pool-parameters.js';
import type { CallPolicy } from './csi-client.js';

const JsonMap = (description: string) => Type.String({ minLength: 2, description: `${description}, as a JSON object of strings` });
const Endpoint = (description: string) => Type.String({ pattern: '^(unix:///.+|tcp://.+:[0-9]{1,5})$', description });

/**
 * Pool parameters of `csi`. The plugin is named by its sockets; what the plugin cannot say about itself
 * over CSI (access modes, raw block, filesystems, whether sizes are enforced) is declared here, so that
 * the scheduler refuses early instead of the plugin failing late. Secrets are JSON maps handed to the
 * plugin in the `secrets` field of the calls that take one: `controllerSecrets` never leave the server,
 * `nodeSecrets` reach a node inside a stage call only.
 */
export const CSI_PARAMETERS = poolParameterSchema(
  {
    endpoint: Endpoint("The plugin's controller socket as the server reaches it: unix:///path/csi.sock or tcp://host:port"),
    nodeEndpoint: Endpoint("The plugin's node socket as each agent reaches it on its host (default: endpoint)"),
    createParameters: JsonMap('Parameters every CreateVolume carries (a StorageClass\'s `parameters`); the profile\'s parameters are merged over them'),
    snapshotParameters: JsonMap('Parameters every CreateSnapshot carries (a VolumeSnapshotClass\'s `parameters`)'),
    topology: JsonMap('The topology segments volumes must be accessible from (accessibility_requirements), e.g. {"topology.ebs.csi.aws.com/zone":"eu-west-1a"}'),
    controllerSecrets: secretParameter('server', 'Secrets for the controller calls, as a JSON object of strings'),
    nodeSecrets: secretParameter('node', 'Secrets for NodeStage/NodePublish/NodeExpand, as a JSON object of strings'),
    accessModes: Type.String({ pattern: '^(RWO|RWOP|ROX|RWX)(,(RWO|RWOP|ROX|RWX))*$', description: 'Access modes the plugin serves, comma-separated (default RWO)' }),
    fsType: Type.String({ pattern: '^[a-z0-9]*$', description: 'fs_type of mount volumes when the request names none (default: the plugin\'s choice)' }),
    fsTypes: Type.String({ pattern: '^([a-z0-9]+(,[a-z0-9]+)*)?$', description: 'Filesystem types the plugin can make, comma-separated (default none: volumes are directories to Polly)' }),
    block: Type.String({ pattern: '^(true|false)$', description: 'Whether the plugin serves raw block volumes (default false)' }),
    sizeEnforced: Type.String({ pattern: '^(true|false)$', description: 'Whether the plugin enforces volume sizes (default false)' }),
    expand: Type.String({ pattern: '^(online|offline|none)$', description: "Override of the expansion mode derived from the plugin's capabilities" }),
    capacityBytes: wholeNumberParameter('Total size of the plugin\'s storage in bytes, for the scheduler (CSI tells only what is available)'),
    qosIopsParameter: Type.String({ minLength: 1, description: 'The mutable parameter (ModifyVolume) that carries a profile\'s IOPS limit' }),
    qosBandwidthParameter: Type.String({ minLength: 1, description: 'The mutable parameter (ModifyVolume) that carries a profile\'s bandwidth limit in bytes/s' }),
    timeoutSeconds: wholeNumberParameter('Deadline of one plugin call in seconds (default 30)'),
    retries: wholeNumberParameter('Retries of a call that failed UNAVAILABLE, DEADLINE_EXCEEDED or ABORTED (default 5)'),
    retryBackoffMs: wholeNumberParameter('Wait before the first retry in ms, doubled each time up to 5 s (default 200)'),
  },
  ['endpoint'],
);

/** The parameters of one `csi` pool, parsed. */
export interface CsiPoolSettings {
  endpoint: string;
  nodeEndpoint: string;
  createParameters: Record<string, string>;
  snapshotParameters: Record<string, string>;
  topology: Record<string, string> | undefined;
  controllerSecrets: Record<string, string>;
  nodeSecrets: Record<string, string>;
  accessModes: AccessMode[];
  fsType: string;
  fsTypes: string[];
  block: boolean;
  sizeEnforced: boolean;
  expand: ExpandMode | undefined;
  capacityBytes: number | undefined;
  qosIopsParameter: string | undefined;
  qosBandwidthParameter: string | undefined;
  policy: CallPolicy;
}

export function parseCsiSettings(poolName: string, p: Record<string, string>): CsiPoolSettings {
  const map = (key: string): Record<string, string> => {
    const raw = p[key];
    // An agent builds its node half from redacted parameters: its secrets come with each stage call.
    if (raw === undefined || raw === REDACTED) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new PollyError('INVALID_POOL_PARAMETER', `pool ${poolName}: parameter "${key}" is not JSON`, { pool: poolName, key });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
      throw new PollyError('INVALID_POOL_PARAMETER', `pool ${poolName}: parameter "${key}" must be a JSON object of strings`, { pool: poolName, key });
    }
    return parsed as Record<string, string>;
  };
  const endpoint = p.endpoint ?? '';
  return {
    endpoint,
    nodeEndpoint: p.nodeEndpoint ?? endpoint,
    createParameters: map('createParameters'),
    snapshotParameters: map('snapshotParameters'),
    topology: p.topology === undefined ? undefined : map('topology'),
    controllerSecrets: map('controllerSecrets'),
    nodeSecrets: map('nodeSecrets'),
    accessModes: (p.accessModes ?? 'RWO').split(',') as AccessMode[],
    fsType: p.fsType ?? '',
    fsTypes: p.fsTypes ? p.fsTypes.split(',') : [],
    block: p.block === 'true',
    sizeEnforced: p.sizeEnforced === 'true',
    expand: p.expand as ExpandMode | undefined,
    capacityBytes: p.capacityBytes === undefined ? undefined : Number(p.capacityBytes),
    qosIopsParameter: p.qosIopsParameter,
    qosBandwidthParameter: p.qosBandwidthParameter,
    policy: {
      timeoutMs: 1000 * Number(p.timeoutSeconds ?? 30),
      retries: Number(p.retries ?? 5),
      backoffMs: Number(p.retryBackoffMs ?? 200),
    },
  };
}
