// Starting the real `heatdeath serve` for tests: on an ephemeral port (--port 0), waiting for
// the URL it prints on stdout; `stop` sends SIGTERM and waits for the exit. Raw requests (get)
// keep the path exactly as written: fetch() would resolve `..` before sending it.

import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { BIN, query } from './cli.js';

export interface Served {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  stop: () => Promise<number | null>;
}

export async function startServe(db: string, extra: readonly string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^(http:\/\/\S+)\n/m.exec(out);
      if (m) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before printing its URL: ${err}`)));
  });
  return {
    url,
    child,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface RawResponse {
  status: number;
  type: string;
  body: string;
}

/** A GET (or another method) of `path` exactly as given, against `base` (the served URL). */
export function get(base: string, path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Requests every page and API route of the database: each run and generation, a category filter
 * (the category of the generation's first document, read from the API), the curated-loop
 * filters and sorts, both directions of
 * compare, every sweep. Returns the paths with their status.
 */
export async function crawl(url: string, db: string): Promise<[string, number][]> {
  const runs = query(db, (d) => d.prepare(`SELECT r.id, coalesce(max(g.gen), -1) AS last FROM runs r LEFT JOIN generations g ON g.run_id = r.id GROUP BY r.id`).all()) as { id: number; last: number }[];
  const sweeps = query(db, (d) => d.prepare(`SELECT id FROM sweeps`).pluck().all()) as string[];
  const paths = ['/', '/api/runs', '/app.js'];
  for (const s of sweeps) paths.push(`/sweeps/${encodeURIComponent(s)}`, `/api/sweeps/${encodeURIComponent(s)}`);
  for (const r of runs) {
    paths.push(`/runs/${r.id}`, `/api/runs/${r.id}`, `/api/runs/${r.id}/metrics`, `/runs/${r.id}/search?q=a`, `/api/runs/${r.id}/documents?q=a`);
    for (let g = 0; g <= r.last; g++) {
      paths.push(`/runs/${r.id}/gen/${g}`, `/api/runs/${r.id}/documents?gen=${g}&limit=500`, `/runs/${r.id}/compare?a=0&b=${g}`, `/api/runs/${r.id}/compare?a=${g}&b=0`);
      paths.push(`/runs/${r.id}/gen/${g}?sort=gen0_loglik&selected=yes&loglik-max=0`, `/api/runs/${r.id}/documents?gen=${g}&sort=-gen0_loglik&selected=no&loglik-min=-20`);
      const one = await get(url, `/api/runs/${r.id}/documents?gen=${g}&limit=1`);
      const first = (JSON.parse(one.body).documents[0]?.categories ?? {}).first as string | undefined;
      if (first !== undefined) paths.push(`/runs/${r.id}/gen/${g}?coarse=first&category=${encodeURIComponent(first)}`);
    }
  }
  const out: [string, number][] = [];
  for (const p of paths) out.push([p, (await get(url, p)).status]);
  return out;
}

