import { connect } from 'node:net';

export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends bytes exactly as given over a real TCP socket and parses the reply by hand: no client library
 * normalises the URL, the headers or the body on the way, so framework-level rejections are reached.
 */
export function rawRequest(url: string, request: string | Buffer, timeoutMs = 10_000): Promise<RawReply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply in ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd < 0) return reject(new Error(`no HTTP reply: ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine = '', ...lines] = text.slice(0, headEnd).split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let body = text.slice(headEnd + 4);
      if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
      else if (headers['content-length'] !== undefined) body = body.slice(0, Number(headers['content-length']));
      resolve({ status, headers, body: Buffer.from(body, 'latin1').toString('utf8') });
    };
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      // One reply per connection (Connection: close is sent): stop once the body is complete.
      const text = Buffer.concat(chunks).toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, headEnd));
      if (headEnd >= 0 && m && Buffer.byteLength(text.slice(headEnd + 4), 'latin1') >= Number(m[1])) {
        socket.destroy();
        finish();
      }
    });
    socket.on('end', () => finish());
    socket.on('close', () => {
      if (!socket.destroyed) finish();
    });
    socket.on('error', (err) => {
      // A server that answers and closes while we still send (a refused huge body) resets the socket.
      if (chunks.length > 0) finish();
      else {
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.write(request);
  });
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) return out;
    const size = parseInt(rest.slice(0, nl), 16);
    if (!size) return out;
    out += rest.slice(nl + 2, nl + 2 + size);
    rest = rest.slice(nl + 2 + size + 2);
  }
}

/** A request line plus headers (Connection: close added) and an optional body. */
export function httpRequest(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Buffer {
  const head = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`);
  if (body !== undefined) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
  const start = Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
  return body === undefined ? start : Buffer.concat([start, Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]);
}
