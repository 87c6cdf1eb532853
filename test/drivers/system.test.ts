import { describe, expect, it } from 'vitest';
import { run } from '../../src/drivers/system/exec.js';
import { KeyedMutex } from '../../src/drivers/system/keyed-mutex.js';
import { parseMountInfo } from '../../src/drivers/system/mounts.js';

describe('parseMountInfo', () => {
  it('reads fields, the read-only flag and escaped paths', () => {
    const text = [
      '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '42 27 0:39 /pool/volumes/v1 /tmp/a\\040b ro,relatime shared:5 master:1 - btrfs /dev/loop0 rw,subvolid=256',
    ].join('\n');
    const [root, bind] = parseMountInfo(text);
    expect(root).toMatchObject({ mountId: 27, device: '254:0', root: '/', mountPoint: '/', readOnly: false, fsType: 'ext4', source: '/dev/vda' });
    expect(bind).toMatchObject({ device: '0:39', root: '/pool/volumes/v1', mountPoint: '/tmp/a b', readOnly: true, fsType: 'btrfs' });
  });
});

describe('run', () => {
  it('names the command and its stderr when it fails', async () => {
    await expect(run('ls', ['/no such dir'])).rejects.toMatchObject({
      code: 'BACKEND_FAILED',
      message: expect.stringMatching(/^ls '\/no such dir' failed \(exit 2\): ls: cannot access/),
    });
  });

  it('treats allowed exit codes as answers', async () => {
    expect((await run('sh', ['-c', 'exit 3'], { allowedExitCodes: [3] })).exitCode).toBe(3);
  });
});

describe('KeyedMutex', () => {
  it('serialises one key and lets others run', async () => {
    const m = new KeyedMutex();
    const order: string[] = [];
    const slow = (tag: string, ms: number) => async () => {
      order.push(`${tag}+`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${tag}-`);
    };
    await Promise.all([m.run('a', slow('a1', 20)), m.run('a', slow('a2', 1)), m.run('b', slow('b', 1))]);
    expect(order.indexOf('a1-')).toBeLessThan(order.indexOf('a2+'));
    expect(order.indexOf('b-')).toBeLessThan(order.indexOf('a1-'));
  });
});
