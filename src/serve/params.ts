// Request parameters of the `serve` routes: each is parsed and checked in one place, and a bad
// one is an HttpError 400 naming it (the server answers with one line of JSON). Unknown query
// keys are refused too, so a typo (`?orgin=seed`) is an error, not a silently ignored filter.

import type { Origin } from '../store/documents.js';

/** An error with the HTTP status the server answers with; `message` is one line for the client. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string) => new HttpError(400, message);
export const notFound = (message: string) => new HttpError(404, message);

/** Longest accepted search text, in characters. */
export const MAX_QUERY = 200;
/** Documents per page: default and most. */
export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

const ORIGINS: readonly Origin[] = ['seed', 'fresh', 'synthetic'];

/** The query string of a request, restricted to `allowed` keys, each given at most once. */
export class Query {
  private readonly values = new Map<string, string>();

  constructor(search: URLSearchParams, allowed: readonly string[]) {
    for (const [k, v] of search) {
      if (!allowed.includes(k)) throw badRequest(`unknown parameter '${k}' (this route takes ${allowed.length ? allowed.join(', ') : 'none'})`);
      if (this.values.has(k)) throw badRequest(`parameter '${k}' given twice`);
      this.values.set(k, v);
    }
  }

  /** The raw value; an empty value counts as absent (what an empty form field sends). */
  string(key: string): string | null {
    const v = this.values.get(key);
    return v === undefined || v === '' ? null : v;
  }

  /** A whole number in [min, max], or `fallback` when absent. */
  int(key: string, fallback: number | null, min = 0, max = Number.MAX_SAFE_INTEGER): number | null {
    const v = this.string(key);
    if (v === null) return fallback;
    if (!/^\d+$/.test(v)) throw badRequest(`parameter '${key}' must be a whole number, got '${v.slice(0, 40)}'`);
    const n = Number(v);
    if (n < min || n > max) throw badRequest(`parameter '${key}' must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  /** A finite decimal number (e.g. -3.5, 2e-1), or null when absent. */
  number(key: string): number | null {
    const v = this.string(key);
    if (v === null) return null;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(v) || !Number.isFinite(Number(v))) throw badRequest(`parameter '${key}' must be a number, got '${v.slice(0, 40)}'`);
    return Number(v);
  }

  /** One of `options`, or null when absent. */
  choice<T extends string>(key: string, options: readonly T[]): T | null {
    const v = this.string(key);
    if (v === null) return null;
    if (!options.includes(v as T)) throw badRequest(`parameter '${key}' must be one of ${options.join(', ')}, got '${v.slice(0, 40)}'`);
    return v as T;
  }

  origin(): Origin | null {
    return this.choice('origin', ORIGINS);
  }

  search(): string | null {
    const v = this.string('q');
    if (v !== null && v.length > MAX_QUERY) throw badRequest(`parameter 'q' is longer than ${MAX_QUERY} characters`);
    return v;
  }
}

/** A path segment that names a generation: a whole number, else the route does not exist. */
export function genSegment(s: string): number {
  if (!/^\d{1,9}$/.test(s)) throw notFound(`no generation '${s.slice(0, 40)}'`);
  return Number(s);
}
