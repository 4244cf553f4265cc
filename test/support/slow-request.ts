import { request } from 'node:http';

/** A request whose body is sent in two parts: the first at once, the rest on finish(). */
export function slowRequest(url: URL, method: string, token: string, body: Buffer): { started: Promise<void>; finish(): void; status: Promise<number> } {
  const req = request(url, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(body.length) } });
  const half = Math.floor(body.length / 2);
  // Resolves once the first part is sent, and a moment later: the relay has taken the request by then.
  const started = new Promise<void>((resolve) => req.write(body.subarray(0, half), () => setTimeout(resolve, 300)));
  const status = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
  return { started, finish: () => req.end(body.subarray(half)), status };
}
