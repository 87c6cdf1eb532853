import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from '../system/errno.js';

/**
 * The provisioned size of each directory volume and snapshot, kept beside the data in
 * `<pool>/meta/<kind>s/<id>.json` because a directory has no size of its own. Written atomically
 * (temporary file + rename), so a crash leaves the old record or the new one, never half of one.
 */
export class SizeRecords {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async init(): Promise<void> {
    await mkdir(join(this.#dir, 'volumes'), { recursive: true });
    await mkdir(join(this.#dir, 'snapshots'), { recursive: true });
  }

  /** The recorded size, or undefined when there is no (readable) record. */
  async get(kind: 'volume' | 'snapshot', id: string): Promise<number | undefined> {
    try {
      const doc = JSON.parse(await readFile(this.#file(kind, id), 'utf8')) as { sizeBytes?: unknown };
      return typeof doc.sizeBytes === 'number' ? doc.sizeBytes : undefined;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  async set(kind: 'volume' | 'snapshot', id: string, sizeBytes: number): Promise<void> {
    const file = this.#file(kind, id);
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ sizeBytes })}\n`);
    await rename(tmp, file);
  }

  /** Not an error when there is no record. */
  async remove(kind: 'volume' | 'snapshot', id: string): Promise<void> {
    await rm(this.#file(kind, id), { force: true });
  }

  #file(kind: 'volume' | 'snapshot', id: string): string {
    return join(this.#dir, `${kind}s`, `${id}.json`);
  }
}
