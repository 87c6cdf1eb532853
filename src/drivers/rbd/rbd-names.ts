/** Image names: Polly's ids behind a prefix, so that a pool shared with other users lists only Polly's objects. */
export const RBD_IMAGE_PREFIX = { volume: 'polly-volume-', snapshot: 'polly-snapshot-' } as const;

export function rbdImageName(kind: 'volume' | 'snapshot', id: string): string {
  return `${RBD_IMAGE_PREFIX[kind]}${id}`;
}

/** Keys of the publish context the rbd node half stages from. */
export const RBD_CONTEXT = { monHost: 'rbd.monHost', pool: 'rbd.pool', image: 'rbd.image', user: 'rbd.user', keyring: 'rbd.keyring', mapper: 'rbd.mapper' } as const;
