import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseKeyValues, positiveInt } from '../../src/cli/args.js';
import { PollyClient } from '../../src/cli/client.js';
import { resolveToken } from '../../src/cli/context.js';
import { readSse } from '../../src/cli/sse.js';

describe('arguments', () => {
  it('parses key=value pairs, splitting at the first =', () => {
    expect(parseKeyValues(['a=1', 'b=x=y', 'c='])).toEqual({ a: '1', b: 'x=y', c: '' });
    expect(() => parseKeyValues(['nope'])).toThrow('label "nope" must look like key=value');
    expect(() => parseKeyValues(['=v'], 'field')).toThrow('field "=v" must look like key=value');
  });

  it('parses positive integers only', () => {
    expect(positiveInt('25')).toBe(25);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) expect(() => positiveInt(bad)).toThrow('positive whole number');
  });

  it('prefers --token/POLLY_TOKEN, else the admin token file, else none', () => {
    expect(resolveToken(' tok ', { POLLY_DATA_DIR: '/nonexistent' })).toBe('tok');
    expect(resolveToken(undefined, { POLLY_DATA_DIR: '/nonexistent' })).toBeUndefined();
  });

  it('builds URLs with repeated query keys and no trailing slash doubling', () => {
    const c = new PollyClient('http://h:1/');
    expect(c.url('/v1/volumes', { label: ['a=1', 'b=2'], limit: 5, pool: undefined })).toBe('http://h:1/v1/volumes?label=a%3D1&label=b%3D2&limit=5');
  });
});

describe('readSse', () => {
  it('parses events split across chunks, skipping comments and retry', async () => {
    const body = Readable.from([': hello\nretry: 2000\n\nid: 1\nevent: volume.cre', 'ated\ndata: {"seq":1}\n\n', 'id: 2\r\ndata: a\r\ndata: b\r\n\r\n']);
    const got = [];
    for await (const m of readSse(body)) got.push(m);
    expect(got).toEqual([
      { id: '1', event: 'volume.created', data: '{"seq":1}' },
      { id: '2', event: 'message', data: 'a\nb' },
    ]);
  });
});
