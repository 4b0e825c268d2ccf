import { createServer, type Server } from 'node:http';

/**
 * The coordinator's HTTP endpoint: /metrics (Prometheus text format), /health (the
 * process answers) and /ready (it can serve clients: catalog loaded, control group
 * reachable), which HAProxy and load balancers check.
 */
export async function startMetricsServer(
  host: string,
  port: number,
  scrape: () => Promise<{ text: string; contentType: string }>,
  ready: () => Promise<{ ready: boolean; reason?: string }>,
): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'method not allowed\n');
    switch (path) {
      case '/metrics':
        scrape().then(
          ({ text, contentType }) => reply(200, text, contentType),
          (error: Error) => reply(500, `metrics failed: ${error.message}\n`),
        );
        return;
      case '/health':
        return reply(200, 'ok\n');
      case '/ready':
        ready().then(
          (state) => reply(state.ready ? 200 : 503, state.ready ? 'ready\n' : `not ready: ${state.reason}\n`),
          (error: Error) => reply(503, `not ready: ${error.message}\n`),
        );
        return;
      default:
        return reply(404, 'not found: try /metrics, /health or /ready\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
