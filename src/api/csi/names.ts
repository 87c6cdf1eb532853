import { createHash } from 'node:crypto';
import { isValidName } from '../../core/names.js';

/**
 * Maps a CSI object name to a Polly name, deterministically, so that a retried CreateVolume or
 * CreateSnapshot finds what the first attempt made. Names Polly accepts (Kubernetes' `pvc-<uuid>` and
 * `snapshot-<uuid>` are) are kept as they are, so operators recognise them; any other name (too long,
 * or with characters such as `/`, `:` or spaces, which the CSI spec allows) becomes `csi-` and 40 hex
 * digits of its SHA-256: 160 bits, so two different CSI names never meet in practice.
 */
export function pollyNameFor(csiName: string): string {
  if (isValidName(csiName)) return csiName;
  return `csi-${createHash('sha256').update(csiName, 'utf8').digest('hex').slice(0, 40)}`;
}
