import type * as UndiciModule from 'undici';
import { PollyError, type ErrorCode } from '../../core/errors.js';

// undici loads on the first call: a server without a cinder pool never pays for it.
let undici: Promise<typeof UndiciModule> | undefined;
const loadUndici = (): Promise<typeof UndiciModule> => (undici ??= import('undici'));

/** The Cinder microversion every call asks for: the attachments API with `os-complete` (3.44+) and in-use extend (3.42+) at 3.54. */
export const CINDER_MICROVERSION = '3.54';

/** How the driver authenticates against Cinder. */
export type CinderAuth =
  | { kind: 'noauth'; endpoint: string; projectId: string; user: string }
  | { kind: 'password'; authUrl: string; username: string; password: string; userDomain: string; project: { id?: string | undefined; name?: string | undefined; domain: string }; endpoint?: string | undefined; region?: string | undefined; interface: string }
  | { kind: 'application-credential'; authUrl: string; id: string; secret: string; endpoint?: string | undefined; region?: string | undefined; interface: string };

interface Token {
  token: string;
  /** The Cinder v3 endpoint with its project, without a trailing slash. */
  endpoint: string;
  expiresAt: number;
}

interface CatalogEntry {
  type: string;
  endpoints: Array<{ interface: string; region?: string; region_id?: string; url: string }>;
}

/** A Cinder API error as the driver branches on it: the HTTP status and Cinder's own message. */
export class CinderHttpError extends PollyError {
  readonly status: number;
  constructor(code: ErrorCode, status: number, message: string) {
    super(code, message, { httpStatus: status });
    this.status = status;
  }
}

/**
 * What an HTTP status from Cinder means to Polly. 400 is a request Cinder refuses as invalid — for a
 * well-formed request that is a state problem (`Invalid volume: status must be available`) when the
 * message says so; 413 is Cinder's quota (OverLimit); 404 not found; 409 a conflicting state.
 */
export function codeForStatus(status: number, message: string): ErrorCode {
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'INVALID_STATE';
  if (status === 413) return 'NO_CAPACITY';
  if (status === 400) return /status|in-use|attached|dependent|snapshots|busy|in use/i.test(message) ? 'INVALID_STATE' : 'VALIDATION_FAILED';
  if (status === 401 || status === 403) return 'BACKEND_FAILED';
  if (status === 503) return 'UNAVAILABLE';
  return 'BACKEND_FAILED';
}

/** The message of a Cinder fault body (`{"badRequest": {"message": …, "code": 400}}`), else the raw text. */
function faultMessage(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, { message?: unknown } | undefined>;
    for (const v of Object.values(body)) if (v && typeof v.message === 'string') return v.message;
  } catch {
    // not JSON
  }
  return text.slice(0, 300);
}

const REQUEST_TIMEOUT_MS = 60_000;
/** A token is renewed this long before Keystone says it expires. */
const TOKEN_MARGIN_MS = 5 * 60_000;

/**
 * Cinder's v3 REST API over undici: JSON in and out, the microversion header on every call, a Keystone
 * v3 token (password or application credential) fetched on first use and renewed before it expires or
 * when Cinder answers 401, or the `noauth` header of a test deployment. Errors become PollyErrors with
 * the status mapped by `codeForStatus`, naming the call and Cinder's message.
 */
export class CinderClient {
  readonly #auth: CinderAuth;
  readonly #label: string;
  #token: Promise<Token> | undefined;

  constructor(label: string, auth: CinderAuth) {
    this.#label = label;
    this.#auth = auth;
  }

  async #authenticate(): Promise<Token> {
    const a = this.#auth;
    if (a.kind === 'noauth') {
      return { token: `${a.user}:${a.projectId}`, endpoint: `${a.endpoint.replace(/\/+$/, '')}/${a.projectId}`, expiresAt: Number.POSITIVE_INFINITY };
    }
    const identity =
      a.kind === 'password'
        ? { methods: ['password'], password: { user: { name: a.username, domain: { name: a.userDomain }, password: a.password } } }
        : { methods: ['application_credential'], application_credential: { id: a.id, secret: a.secret } };
    const scope =
      a.kind === 'password' ? { project: a.project.id !== undefined ? { id: a.project.id } : { name: a.project.name, domain: { name: a.project.domain } } } : undefined;
    const { request } = await loadUndici();
    const url = `${a.authUrl.replace(/\/+$/, '')}/auth/tokens`;
    let res;
    try {
      res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { identity, ...(scope ? { scope } : {}) } }),
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
      });
    } catch (err) {
      throw new PollyError('UNAVAILABLE', `${this.#label}: Keystone at ${a.authUrl} is unreachable: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    if (res.statusCode !== 201 && res.statusCode !== 200) {
      throw new PollyError('BACKEND_FAILED', `${this.#label}: Keystone refused the ${a.kind} credentials (HTTP ${res.statusCode}): ${faultMessage(text)}`);
    }
    const header = res.headers['x-subject-token'];
    const token = Array.isArray(header) ? header[0] : header;
    if (!token) throw new PollyError('BACKEND_FAILED', `${this.#label}: Keystone answered no X-Subject-Token`);
    const body = JSON.parse(text) as { token: { expires_at?: string; catalog?: CatalogEntry[]; project?: { id: string } } };
    let endpoint = a.endpoint?.replace(/\/+$/, '');
    if (endpoint !== undefined && body.token.project && !endpoint.includes(body.token.project.id)) endpoint = `${endpoint}/${body.token.project.id}`;
    endpoint ??= pickEndpoint(body.token.catalog ?? [], a.interface, a.region);
    if (!endpoint) throw new PollyError('BACKEND_FAILED', `${this.#label}: the Keystone catalog has no block-storage v3 endpoint (interface ${a.interface}${a.region ? `, region ${a.region}` : ''}); set the pool parameter endpoint`);
    const expiresAt = body.token.expires_at ? Date.parse(body.token.expires_at) : Date.now() + 3_600_000;
    return { token, endpoint: endpoint.replace(/\/+$/, ''), expiresAt };
  }

  async #currentToken(): Promise<Token> {
    const cached = this.#token ? await this.#token.catch(() => undefined) : undefined;
    if (cached && cached.expiresAt - TOKEN_MARGIN_MS > Date.now()) return cached;
    this.#token = this.#authenticate();
    this.#token.catch(() => (this.#token = undefined));
    return this.#token;
  }

  /**
   * One call: `path` is relative to the project endpoint (`/volumes/detail`). Answers the parsed body
   * (undefined for an empty one). A 401 renews the token once; every other error status throws.
   */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { request } = await loadUndici();
    for (let attempt = 0; ; attempt++) {
      const tok = await this.#currentToken();
      let res;
      try {
        res = await request(`${tok.endpoint}${path}`, {
          method: method as 'GET',
          headers: {
            'x-auth-token': tok.token,
            'content-type': 'application/json',
            accept: 'application/json',
            'openstack-api-version': `volume ${CINDER_MICROVERSION}`,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          headersTimeout: REQUEST_TIMEOUT_MS,
          bodyTimeout: REQUEST_TIMEOUT_MS,
        });
      } catch (err) {
        throw new PollyError('UNAVAILABLE', `${this.#label}: Cinder at ${tok.endpoint} is unreachable (${method} ${path}): ${(err as Error).message}`);
      }
      const text = await res.body.text();
      if (res.statusCode === 401 && attempt === 0 && this.#auth.kind !== 'noauth') {
        this.#token = undefined;
        continue;
      }
      if (res.statusCode >= 400) {
        const message = faultMessage(text);
        throw new CinderHttpError(codeForStatus(res.statusCode, message), res.statusCode, `${this.#label}: Cinder ${method} ${path.split('?')[0]} answered HTTP ${res.statusCode}: ${message}`);
      }
      return (text.trim() === '' ? undefined : JSON.parse(text)) as T;
    }
  }
}

/** The block-storage v3 endpoint of a Keystone catalog (service type `block-storage`, `volumev3`). */
export function pickEndpoint(catalog: CatalogEntry[], iface: string, region: string | undefined): string | undefined {
  for (const type of ['block-storage', 'volumev3']) {
    const service = catalog.find((c) => c.type === type);
    const ep = service?.endpoints.find((e) => e.interface === iface && (region === undefined || e.region_id === region || e.region === region));
    if (ep) return ep.url;
  }
  return undefined;
}

export function isNotFoundError(err: unknown): boolean {
  return err instanceof PollyError && err.code === 'NOT_FOUND';
}
