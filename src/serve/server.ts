// The `serve` web app on node:http: a fixed table of routes (pages and their JSON API), nothing
// else. No file is ever served from disk, so no path can reach outside the app: a request path
// is split into segments and any `.`, `..` or encoded slash is a 404 before routing. Only GET and
// HEAD are answered. Errors are one line: JSON for /api/, a small page otherwise.
//
// Live updates: /api/events is a server-sent event stream. While a client listens, the server
// polls SQLite's data_version (a counter that moves when another connection commits: a run's
// generation or its heartbeat) and sends one event per change; the page's script then fetches
// its <main> again. The database is only ever read.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../errors.js';
import { page } from '../report/page.js';
import { dataVersion } from '../store/browse.js';
import { lastGeneration } from '../store/runs.js';
import { CLIENT_JS } from './client.js';
import {
  asHttp, checkGen, compareData, DOCUMENT_PARAMS, documentsData, metricsData, runData, runOf, runsData, sweepData, type ServeDeps,
} from './data.js';
import { comparePage, documentsPage, errorPage, runPage, runsPage, SERVE_CSS, sweepPage, type Page } from './pages.js';
import { DEFAULT_LIMIT, genSegment, HttpError, MAX_LIMIT, notFound, Query } from './params.js';

export interface ServeOptions extends ServeDeps {
  /** How often the event stream checks the database for changes, ms. */
  pollMs?: number;
  /**
   * Host header names accepted (a page on another site cannot then reach a loopback server by
   * DNS rebinding); null accepts any (the server was bound to a public address on purpose).
   */
  allowedHosts: readonly string[] | null;
  /** Where internal errors are reported (the CLI passes stderr). */
  log: (line: string) => void;
}

/** Hosts a loopback-bound server answers to. */
export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/** Whether an address only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

type Result = { kind: 'page'; page: Page } | { kind: 'json'; body: unknown } | { kind: 'js'; body: string } | { kind: 'events' };

type Handler = (m: string[], q: URLSearchParams) => Result;

const CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function routes(o: ServeOptions): [RegExp, Handler][] {
  const q = (s: URLSearchParams, allowed: readonly string[]) => new Query(s, allowed);
  const json = (body: unknown): Result => ({ kind: 'json', body });
  const html = (p: Page): Result => ({ kind: 'page', page: p });
  const now = () => new Date(o.now()).toISOString();
  const compare = (id: string, s: URLSearchParams) => {
    const p = q(s, ['a', 'b']);
    const view = runOf(o, id);
    const a = p.int('a', null);
    const b = p.int('b', null);
    if (a === null || b === null) throw new HttpError(400, `parameters 'a' and 'b' (the two generations) are required`);
    return { view, data: compareData(o, view, a, b) };
  };
  return [
    [/^\/$/, (_, s) => (q(s, []), html(runsPage(runsData(o), now())))],
    [/^\/runs\/([^/]+)$/, ([id], s) => (q(s, []), html(runPage(runData(o, runOf(o, id)))))],
    [
      /^\/runs\/([^/]+)\/gen\/([^/]+)$/,
      ([id, g], s) => {
        const view = runOf(o, id);
        const gen = checkGen(o, view, genSegment(g));
        const d = documentsData(o, view, q(s, DOCUMENT_PARAMS.filter((k) => k !== 'gen')), gen, DEFAULT_LIMIT, MAX_LIMIT);
        return html(documentsPage(view, d, lastGeneration(o.db, view.run.id), gen));
      },
    ],
    [
      /^\/runs\/([^/]+)\/search$/,
      ([id], s) => {
        const view = runOf(o, id);
        const d = documentsData(o, view, q(s, DOCUMENT_PARAMS.filter((k) => k !== 'gen')), null, DEFAULT_LIMIT, MAX_LIMIT);
        return html(documentsPage(view, d, lastGeneration(o.db, view.run.id), null));
      },
    ],
    [/^\/runs\/([^/]+)\/compare$/, ([id], s) => {
      const { view, data } = compare(id, s);
      return html(comparePage(view, data));
    }],
    [/^\/sweeps\/([^/]+)$/, ([id], s) => (q(s, []), html(sweepPage(sweepData(o, id))))],
    [/^\/app\.js$/, (_, s) => (q(s, []), { kind: 'js', body: CLIENT_JS })],
    [/^\/api\/runs$/, (_, s) => (q(s, []), json(runsData(o)))],
    [/^\/api\/runs\/([^/]+)$/, ([id], s) => (q(s, []), json(runData(o, runOf(o, id))))],
    [/^\/api\/runs\/([^/]+)\/metrics$/, ([id], s) => (q(s, []), json(metricsData(o, runOf(o, id))))],
    [/^\/api\/runs\/([^/]+)\/documents$/, ([id], s) => json(documentsData(o, runOf(o, id), q(s, DOCUMENT_PARAMS), null, DEFAULT_LIMIT, MAX_LIMIT))],
    [/^\/api\/runs\/([^/]+)\/compare$/, ([id], s) => json(compare(id, s).data)],
    [/^\/api\/sweeps\/([^/]+)$/, ([id], s) => (q(s, []), json(sweepData(o, id)))],
    [/^\/api\/events$/, (_, s) => (q(s, []), { kind: 'events' })],
  ];
}

/**
 * The path of a request target, or null when it is not a plain absolute path of safe segments
 * (`..`, `.`, an encoded `/` or `\`, a NUL, bad percent-encoding): those are never a route.
 */
export function safePath(target: string): { path: string; segments: string[]; search: string } | null {
  const at = target.indexOf('?');
  const raw = at < 0 ? target : target.slice(0, at);
  const search = at < 0 ? '' : target.slice(at + 1);
  if (!raw.startsWith('/')) return null;
  const segments: string[] = [];
  for (const part of raw.slice(1).split('/')) {
    let s: string;
    try {
      s = decodeURIComponent(part);
    } catch {
      return null;
    }
    if (s === '.' || s === '..' || /[/\\\0]/.test(s)) return null;
    segments.push(s);
  }
  return { path: raw, segments, search };
}

function hostName(header: string | undefined): string | null {
  if (!header) return null;
  const h = header.toLowerCase();
  return h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.split(':')[0];
}

export interface App {
  server: Server;
  /** Ends event streams and open connections, then stops listening. */
  close(): Promise<void>;
}

export function createApp(o: ServeOptions): App {
  const table = routes(o);
  const listeners = new Set<ServerResponse>();
  let version = dataVersion(o.db);
  const timer = setInterval(() => {
    if (!listeners.size) return;
    const v = dataVersion(o.db);
    if (v === version) return;
    version = v;
    for (const res of listeners) res.write(`data: ${JSON.stringify({ version: v })}\n\n`);
  }, o.pollMs ?? 1000);
  timer.unref();

  const send = (req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'Content-Security-Policy': CSP,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      ...extra,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const wrap = (p: Page) =>
    page(
      p.title,
      `<nav class="top"><a href="/">heatdeath · all runs</a><span>read-only</span></nav><main${p.live ? ' data-live' : ''}>${p.main}</main>`,
      { scriptSrc: '/app.js', css: SERVE_CSS, footer: 'Served read-only by heatdeath serve from this machine; nothing is fetched from anywhere else.' },
    );
  const fail = (req: IncomingMessage, res: ServerResponse, api: boolean, status: number, message: string, extra: Record<string, string> = {}) => {
    const line = message.replace(/\s+/g, ' ');
    if (api) send(req, res, status, 'application/json; charset=utf-8', JSON.stringify({ error: line, status }) + '\n', extra);
    else send(req, res, status, 'text/html; charset=utf-8', wrap(errorPage(status, line)), extra);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const target = safePath(req.url ?? '');
    const api = !!target && target.path.startsWith('/api/');
    if (o.allowedHosts && !o.allowedHosts.includes(hostName(req.headers.host) ?? '')) return fail(req, res, api, 403, `host '${String(req.headers.host ?? '').slice(0, 80)}' is not served (this server answers on ${o.allowedHosts.join(', ')})`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(req, res, api, 405, `method ${String(req.method).slice(0, 20)} not allowed: this server is read-only`, { Allow: 'GET, HEAD' });
    if (!target) return fail(req, res, api, 404, 'no such page');
    const path = '/' + target.segments.map(encodeURIComponent).join('/');
    let result: Result | null = null;
    try {
      for (const [re, h] of table) {
        const m = re.exec(path);
        if (m) {
          result = h(m.slice(1).map(decodeURIComponent), new URLSearchParams(target.search));
          break;
        }
      }
      if (!result) throw notFound(`no such ${api ? 'API route' : 'page'}: ${target.path.slice(0, 80)}`);
    } catch (e0) {
      const e = asHttp(e0);
      if (e instanceof HttpError) return fail(req, res, api, e.status, e.message);
      o.log(e instanceof Error ? (e.stack ?? e.message) : String(e));
      return fail(req, res, api, 500, `internal error: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (result.kind === 'json') return send(req, res, 200, 'application/json; charset=utf-8', JSON.stringify(result.body) + '\n');
    if (result.kind === 'js') return send(req, res, 200, 'text/javascript; charset=utf-8', result.body);
    if (result.kind === 'page')
      return req.headers['x-heatdeath-fragment'] === '1'
        ? send(req, res, 200, 'text/html; charset=utf-8', result.page.main)
        : send(req, res, 200, 'text/html; charset=utf-8', wrap(result.page));
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.write(`retry: 2000\n\n`);
    if (req.method === 'HEAD') return res.end();
    listeners.add(res);
    req.on('close', () => listeners.delete(res));
  };

  const server = createServer(handle);
  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(timer);
        for (const res of listeners) res.end();
        listeners.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Starts listening; a port in use or not allowed is a UserError. Resolves to the URL. */
export function listen(app: App, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') reject(new UserError(`port ${port} on ${host} is already in use (pass --port, or --port 0 for any free port)`, 'E_PORT'));
      else if (e.code === 'EACCES') reject(new UserError(`not allowed to listen on port ${port} on ${host} (ports below 1024 need privileges)`, 'E_PORT'));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') reject(new UserError(`cannot listen on host '${host}': no such address on this machine`, 'E_HOST'));
      else reject(e);
    };
    app.server.once('error', onError);
    app.server.listen(port, host, () => {
      app.server.off('error', onError);
      const a = app.server.address() as AddressInfo;
      const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      resolve(`http://${h}:${a.port}/`);
    });
  });
}
