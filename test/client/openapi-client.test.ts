import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CLIENT_TYPES_PATH, clientTypesSource, servedOpenApiDocument } from '../../scripts/openapi-client.js';

describe('generated REST client types', () => {
  it('src/client/openapi.ts matches what the served /openapi.json generates (run `npm run gen:client` when this fails)', async () => {
    const expected = await clientTypesSource(await servedOpenApiDocument());
    const committed = await readFile(CLIENT_TYPES_PATH, 'utf8');
    expect(committed === expected, 'src/client/openapi.ts is stale: run `npm run gen:client`').toBe(true);
  });

  it('generates from the document, so a changed schema changes the types', async () => {
    const doc = await servedOpenApiDocument();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- arbitrary JSON
    const schemas = (doc.components as any).schemas;
    schemas.Volume.properties.extraField = { type: 'string' };
    schemas.Volume.required.push('extraField');
    const source = await clientTypesSource(doc);
    expect(source).toMatch(/extraField: string;/);
    expect(source).not.toBe(await readFile(CLIENT_TYPES_PATH, 'utf8'));
  });
});
