// Prometheus metrics shared by every daemon: one registry, default process metrics, and a tiny HTTP
// endpoint (GET /metrics) started by each daemon on its metrics port.
import * as http from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
let defaultsOn = false;

export function enableDefaultMetrics(prefix: string): void {
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: registry, prefix });
}

/** Serve GET /metrics on host:port; resolves to the server once listening (port 0 picks one). */
export function serveMetrics(host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'Content-Type': registry.contentType });
          res.end(body);
        })
        .catch((err: Error) => {
          res.writeHead(500);
          res.end(String(err.message));
        });
      return;
    }
    res.writeHead(404);
    res.end('not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
