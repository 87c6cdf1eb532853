import { Ajv, type Options, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats ships CommonJS with a default export; under NodeNext the callable sits on `.default`.
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;

const COMMON: Options = { useDefaults: true, removeAdditional: false, allErrors: false, strict: false };

/** A validator fastify may call like ajv's own (it reads `.errors` after a `false`). */
type LazyValidate = ((data: unknown) => boolean) & { errors?: ValidateFunction['errors'] };

/**
 * Compiles a route's schema on the route's first request instead of at start: compiling the ~150
 * request schemas of REST v1 up front was the largest part of `polly server`'s start-up. A schema that
 * cannot compile still fails loudly (on first use; test/api/rest covers every route).
 */
function lazily(ajv: Ajv, schema: object): LazyValidate {
  let compiled: ValidateFunction | undefined;
  const validate: LazyValidate = (data) => {
    compiled ??= ajv.compile(schema);
    const ok = compiled(data);
    validate.errors = compiled.errors;
    return ok;
  };
  return validate;
}

/**
 * Two validators: bodies are checked strictly (a number where a string belongs is an error, never
 * coerced), while query strings, params and headers arrive as text and are coerced to their schema types
 * (`?limit=10`, a single `?label=` becoming an array).
 */
export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = addFormats(new Ajv({ ...COMMON, coerceTypes: false }));
  const coercing = addFormats(new Ajv({ ...COMMON, coerceTypes: 'array' }));
  return ({ schema, httpPart }) => lazily(httpPart === 'body' ? strict : coercing, schema as object);
}
