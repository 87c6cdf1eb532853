import { createRequire } from 'node:module';

/** What fastify's `schemaController.compilersFactory.buildSerializer` is: (shared schemas, options) → per-route compiler. */
type SerializerFactory = (externalSchemas: unknown, options: unknown) => (route: { schema?: unknown }) => (data: unknown) => string;

/**
 * Fastify's own response serializer (fast-json-stringify, resolved from fastify's dependencies, so it is
 * exactly the one fastify would use), but each route's serializer is built on its first response instead
 * of at start: building all of REST v1's response serializers up front was a large part of `polly
 * server`'s start-up. Output is unchanged (same compiler, same schema).
 */
export function lazySerializerFactory(): SerializerFactory {
  const fromFastify = createRequire(createRequire(import.meta.url).resolve('fastify'));
  const { SerializerSelector } = fromFastify('@fastify/fast-json-stringify-compiler') as { SerializerSelector: () => SerializerFactory };
  const eager = SerializerSelector();
  return (externalSchemas, options) => {
    const compile = eager(externalSchemas, options);
    return (route) => {
      let serialize: ((data: unknown) => string) | undefined;
      return (data) => (serialize ??= compile(route))(data);
    };
  };
}
