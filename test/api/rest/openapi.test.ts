import { createConfig, lintFromString } from '@redocly/openapi-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CATALOG } from '../../../src/core/errors.js';
import { OPERATION_IDS } from '../../../src/api/rest/openapi.js';
import { startPolly, type TestPolly } from '../../helpers/polly.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the document is arbitrary JSON
type Doc = any;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/**
 * Problems the lint reports that are true of the API and accepted: liveness and readiness have no
 * client error (they take no input and need no token).
 */
const ACCEPTED = new Set(['operation-4xx-response #/paths/~1healthz/get/responses', 'operation-4xx-response #/paths/~1readyz/get/responses']);

describe('OpenAPI document for client generators', () => {
  let polly: TestPolly;
  let doc: Doc;
  beforeAll(async () => {
    polly = await startPolly();
    const res = await polly.call('GET', '/openapi.json', { token: null });
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(async () => polly?.stop());

  const operations = (): Array<{ key: string; op: Doc }> =>
    Object.entries(doc.paths as Record<string, Doc>).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((m) => ({ key: `${m.toUpperCase()} ${path}`, op: item[m] })),
    );

  it('passes the Redocly recommended lint with no error and no warning', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(doc), absoluteRef: 'openapi.json', config });
    const found = problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer ?? ''}`).filter((p) => !ACCEPTED.has(p));
    expect(found).toEqual([]);
  });

  it('names every operation from the table, uniquely', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThanOrEqual(50);
    expect(doc['x-missing-operation-ids']).toBeUndefined();
    for (const { key, op } of ops) expect(op.operationId, key).toBe(OPERATION_IDS[key]);
    const ids = ops.map(({ op }) => op.operationId as string);
    expect(new Set(ids).size).toBe(ids.length);
    // Every table entry is a served route (no stale names).
    expect(Object.keys(OPERATION_IDS).sort()).toEqual(ops.map(({ key }) => key).sort());
  });

  it('references named component schemas instead of inlining bodies', () => {
    const schemas = doc.components.schemas;
    for (const name of ['Volume', 'VolumePage', 'Snapshot', 'Pool', 'Profile', 'Offer', 'Reservation', 'Quota', 'Explanation', 'PoolVerdict', 'Node', 'Attachment', 'Event', 'Error', 'CreateVolumeRequest']) {
      expect(schemas[name], name).toBeDefined();
    }
    expect(doc.paths['/v1/volumes'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateVolumeRequest' });
    expect(doc.paths['/v1/volumes'].get.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/VolumePage' });
    expect(schemas.VolumePage.properties.items.items).toEqual({ $ref: '#/components/schemas/Volume' });
    // Every success body of a /v1 operation is a $ref (or has no body).
    for (const { key, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses as Record<string, Doc>)) {
        const schema = response.content?.['application/json']?.schema;
        if (schema) expect(schema.$ref, `${key} ${status}`).toMatch(/^#\/components\/schemas\//);
      }
    }
  });

  it('describes errors with one schema whose code is the catalog enum', () => {
    expect(doc.components.schemas.Error.properties.error.properties.code).toEqual({ $ref: '#/components/schemas/ErrorCode' });
    expect(doc.components.schemas.ErrorCode.enum).toEqual(Object.keys(ERROR_CATALOG));
    const notFound = doc.paths['/v1/volumes/{id}'].get.responses['404'];
    expect(notFound).toEqual({ $ref: '#/components/responses/NotFound' });
    expect(doc.components.responses.NotFound.description).toMatch(/VOLUME_NOT_FOUND/);
    expect(doc.components.schemas.Error.examples[0].error.code).toBe('VOLUME_NOT_FOUND');
  });

  it('writes string unions as enums', () => {
    const s = doc.components.schemas;
    expect(s.VolumeStatus.enum).toEqual(['creating', 'importing', 'available', 'attaching', 'attached', 'detaching', 'deleting', 'error']);
    expect(s.AccessMode.enum).toEqual(['RWO', 'RWOP', 'ROX', 'RWX']);
    expect(s.Volume.properties.status).toEqual({ $ref: '#/components/schemas/VolumeStatus' });
    const patchState = s.UpdatePoolRequest.properties.state;
    expect(patchState.enum ?? s[String(patchState.$ref).split('/').pop() ?? '']?.enum).toEqual(['enabled', 'draining', 'disabled']);
    expect(JSON.stringify(doc)).not.toMatch(/"anyOf":\[\{"type":"string","(const|enum)"/);
  });

  it('declares bearer security, overridden to none for health checks', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });
});
