import { Type } from 'typebox';
import { PollyError } from '../../core/errors.js';
import { poolParameterSchema, secretParameter, wholeNumberParameter } from '../system/pool-parameters.js';
import type { CinderAuth } from './cinder-client.js';

/**
 * Pool parameters of `cinder`. Production deployments authenticate with Keystone v3 (`auth: password`
 * or `application-credential`, the endpoint found in the catalog); `noauth` is Cinder's test mode
 * (`auth_strategy = noauth`: the project is named in the URL and the token). Passwords and secrets are
 * server-scoped; `nodeKey` (the Ceph key of the user Cinder's RBD connection info names) reaches a node
 * only inside a stage call.
 */
export const CINDER_PARAMETERS = poolParameterSchema({
  auth: Type.String({ pattern: '^(password|application-credential|noauth)$', description: 'How to authenticate: password, application-credential (Keystone v3) or noauth (test deployments)' }),
  endpoint: Type.String({ pattern: '^https?://', description: 'Cinder v3 URL without the project (https://cinder:8776/v3); default: from the Keystone catalog' }),
  authUrl: Type.String({ pattern: '^https?://', description: 'Keystone v3 URL (https://keystone:5000/v3)' }),
  username: Type.String({ minLength: 1, description: 'Keystone user (auth password)' }),
  password: secretParameter('server', 'Password of `username`'),
  userDomain: Type.String({ minLength: 1, description: 'Domain of `username` (default Default)' }),
  projectId: Type.String({ pattern: '^[A-Za-z0-9_-]+$', description: 'Project to scope to (auth password), or the project noauth names' }),
  projectName: Type.String({ minLength: 1, description: 'Project to scope to by name (auth password)' }),
  projectDomain: Type.String({ minLength: 1, description: 'Domain of `projectName` (default Default)' }),
  applicationCredentialId: Type.String({ minLength: 1, description: 'Keystone application credential id (auth application-credential)' }),
  applicationCredentialSecret: secretParameter('server', 'Secret of the application credential'),
  region: Type.String({ minLength: 1, description: 'Keystone catalog region of the Cinder endpoint' }),
  interface: Type.String({ pattern: '^(public|internal|admin)$', description: 'Keystone catalog interface of the Cinder endpoint (default public)' }),
  volumeType: Type.String({ minLength: 1, description: 'Cinder volume type of new volumes (a profile parameter volumeType overrides it; default: Cinder\'s default type)' }),
  availabilityZone: Type.String({ minLength: 1, description: 'Cinder availability zone of new volumes' }),
  capacityPool: Type.String({ minLength: 1, description: 'Cinder pool (host@backend#pool) whose statistics are the pool\'s capacity; default: the pools of the volume type\'s backend' }),
  timeoutSeconds: wholeNumberParameter('Longest wait for one Cinder operation (creating, extending, deleting) to finish (default 600)'),
  nodeUser: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'Cephx user nodes map RBD volumes with (default: the user Cinder\'s connection info names)' }),
  nodeKey: secretParameter('node', 'Cephx secret key nodes map RBD volumes with, handed to a node only while it stages a volume'),
  nodeKeyring: Type.String({ minLength: 1, description: 'Keyring file present on every node (instead of `nodeKey`)' }),
  monHost: Type.String({ minLength: 1, description: 'Ceph monitors as nodes reach them (default: those Cinder\'s connection info lists)' }),
  mapper: Type.String({ pattern: '^(auto|krbd|rbd-fuse)$', description: 'How nodes map RBD volumes: krbd, rbd-fuse + a loop device, or auto' }),
  storageFence: Type.String({ pattern: '^(auto|off)$', description: 'Storage-side fencing of RBD attachments by Ceph client blocklist: auto (when the server has a Ceph key: fenceKey or nodeKey) or off' }),
  fenceUser: Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'Cephx user the server blocklists fenced nodes with (needs the monitor caps of profile rbd; default: nodeUser, else the user Cinder\'s connection info names)' }),
  fenceKey: secretParameter('server', 'Cephx secret key of `fenceUser` (default: nodeKey)'),
  fenceKeyring: Type.String({ minLength: 1, description: 'Keyring file of `fenceUser` on the server (instead of `fenceKey`)' }),
});

/** The authentication the parameters describe; INVALID_POOL_PARAMETER naming what is missing. */
export function authFrom(poolName: string, p: Record<string, string>): CinderAuth {
  const missing = (key: string): never => {
    throw new PollyError('INVALID_POOL_PARAMETER', `pool ${poolName}: driver cinder with auth ${p.auth ?? 'password'} requires parameter "${key}"`, { pool: poolName, key });
  };
  const kind = p.auth ?? 'password';
  const iface = p.interface ?? 'public';
  if (kind === 'noauth') {
    return { kind, endpoint: p.endpoint ?? missing('endpoint'), projectId: p.projectId ?? missing('projectId'), user: p.username ?? 'admin' };
  }
  const authUrl = p.authUrl ?? missing('authUrl');
  if (kind === 'application-credential') {
    return { kind, authUrl, id: p.applicationCredentialId ?? missing('applicationCredentialId'), secret: p.applicationCredentialSecret ?? missing('applicationCredentialSecret'), endpoint: p.endpoint, region: p.region, interface: iface };
  }
  if (p.projectId === undefined && p.projectName === undefined) missing('projectId');
  return {
    kind: 'password',
    authUrl,
    username: p.username ?? missing('username'),
    password: p.password ?? missing('password'),
    userDomain: p.userDomain ?? 'Default',
    project: { id: p.projectId, name: p.projectName, domain: p.projectDomain ?? 'Default' },
    endpoint: p.endpoint,
    region: p.region,
    interface: iface,
  };
}
