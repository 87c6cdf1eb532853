/** Subvolume and snapshot names: Polly's ids behind a prefix, so a filesystem shared with others lists only Polly's. */
export const CEPHFS_PREFIX = { volume: 'polly-volume-', snapshot: 'polly-snapshot-' } as const;

export function cephfsName(kind: 'volume' | 'snapshot', id: string): string {
  return `${CEPHFS_PREFIX[kind]}${id}`;
}

/** Keys of the publish context the cephfs node half mounts from. */
export const CEPHFS_CONTEXT = {
  monHost: 'cephfs.monHost',
  fsName: 'cephfs.fsName',
  path: 'cephfs.path',
  user: 'cephfs.user',
  keyring: 'cephfs.keyring',
  mounter: 'cephfs.mounter',
  /** The node the context was made for: the client's session metadata carries it, so a fence finds the node's clients. */
  node: 'cephfs.node',
} as const;

/** Client metadata key (`client_metadata`) naming the Polly node of a CephFS client session. */
export const CEPHFS_NODE_METADATA = 'polly_node';
