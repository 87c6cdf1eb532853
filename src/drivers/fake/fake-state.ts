import type { VolumeMode } from '../../core/ports/driver.js';

/** One in-memory volume or snapshot: its size and the files written into it through the fake node. */
export interface FakeObject {
  sizeBytes: number;
  volumeMode: VolumeMode;
  files: Map<string, Buffer>;
}

/** What the fake's controller and node halves share: the pool's objects and their accounting. */
export class FakeState {
  readonly capacityBytes: number;
  readonly volumes = new Map<string, FakeObject>();
  readonly snapshots = new Map<string, FakeObject>();
  /** Bytes of file data held across all objects (kept as a running total: no walk per call). */
  storedBytes = 0;

  constructor(capacityBytes: number) {
    this.capacityBytes = capacityBytes;
  }

  get freeBytes(): number {
    return Math.max(0, this.capacityBytes - this.storedBytes);
  }

  /** A copy of `source`'s files, accounted as new data (the fake shares nothing, like a plain copy). */
  copyFiles(source: FakeObject): Map<string, Buffer> {
    const files = new Map<string, Buffer>();
    for (const [name, data] of source.files) {
      files.set(name, data);
      this.storedBytes += data.length;
    }
    return files;
  }

  /** Forgets an object and the bytes it held. */
  drop(objects: Map<string, FakeObject>, id: string): void {
    const obj = objects.get(id);
    if (!obj) return;
    this.storedBytes -= usedBytes(obj);
    objects.delete(id);
  }
}

export function usedBytes(obj: FakeObject): number {
  let n = 0;
  for (const data of obj.files.values()) n += data.length;
  return n;
}
