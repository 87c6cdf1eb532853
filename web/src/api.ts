import createClient from 'openapi-fetch';
import type { components, paths } from '../../src/client/openapi.js';

/** REST v1 types, generated from /openapi.json (src/client/openapi.ts). */
export type Schemas = components['schemas'];
export type Api = ReturnType<typeof createClient<paths>>;

/** A REST error: the stable code and message of `{"error": {code, message}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A typed client (openapi-fetch) that sends the bearer token the user signed in with. */
export function makeApi(token: string): Api {
  return createClient<paths>({ baseUrl: window.location.origin, headers: { authorization: `Bearer ${token}` } });
}

interface Outcome<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The body of a successful call, or an ApiError with the server's code. */
export async function ok<T>(call: Promise<Outcome<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) {
    const body = error as { error?: { code?: string; message?: string } } | undefined;
    throw new ApiError(response.status, body?.error?.code ?? `HTTP_${response.status}`, body?.error?.message ?? response.statusText);
  }
  return data as T;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
