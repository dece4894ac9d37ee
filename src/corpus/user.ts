// User corpora: a `.txt` file (one document per line, unlabelled) or a `.jsonl` file (one
// {"text", "label"} object per line). Every problem a user can fix is a UserError naming the
// file and the line, because a corpus with one bad line is usually otherwise fine.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { UserError } from '../errors.js';
import type { Corpus, Doc } from './types.js';

/** File extensions a user corpus may have. */
export const USER_CORPUS_EXTENSIONS = ['.txt', '.jsonl'] as const;

export function isUserCorpusFile(path: string): boolean {
  return (USER_CORPUS_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase());
}

/** Documents of a .txt file: one per line, surrounding whitespace trimmed, blank lines skipped. */
export function parseTxt(content: string): Doc[] {
  const docs: Doc[] = [];
  for (const line of content.split('\n')) {
    const text = line.trim();
    if (text !== '') docs.push({ text, label: null });
  }
  return docs;
}

/** Documents of a .jsonl file; `file` only names the file in error messages. */
export function parseJsonl(content: string, file: string): Doc[] {
  const docs: Doc[] = [];
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const where = `${file}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new UserError(`${where}: not valid JSON (${(e as Error).message})`, 'E_CORPUS_LINE');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new UserError(`${where}: expected an object {"text": ..., "label": ...}`, 'E_CORPUS_LINE');
    }
    const { text, label } = value as { text?: unknown; label?: unknown };
    if (typeof text !== 'string' || text.trim() === '') {
      throw new UserError(`${where}: "text" must be a non-empty string`, 'E_CORPUS_LINE');
    }
    if (label !== undefined && label !== null && typeof label !== 'string') {
      throw new UserError(`${where}: "label" must be a string or null`, 'E_CORPUS_LINE');
    }
    docs.push({ text, label: label ?? null });
  }
  return docs;
}

/** Reads a user corpus file; its name is the file's base name without extension. */
export function readUserCorpus(path: string): Corpus {
  if (!isUserCorpusFile(path)) {
    throw new UserError(`corpus file '${path}' must end in .txt or .jsonl`, 'E_CORPUS');
  }
  if (!existsSync(path) || !statSync(path).isFile()) {
    throw new UserError(`corpus file '${path}' does not exist`, 'E_CORPUS');
  }
  const content = readFileSync(path, 'utf8');
  const jsonl = extname(path).toLowerCase() === '.jsonl';
  const docs = jsonl ? parseJsonl(content, path) : parseTxt(content);
  if (docs.length === 0) throw new UserError(`corpus file '${path}' has no documents`, 'E_CORPUS');
  const labels = [...new Set(docs.map((d) => d.label).filter((l): l is string => l !== null))].sort();
  return {
    name: basename(path, extname(path)),
    source: path,
    description: jsonl ? 'user corpus (JSON lines: text and label)' : 'user corpus (one document per line)',
    docs,
    labels,
  };
}

/** The user corpus files directly inside `corporaDir`, sorted by name (none if it does not exist). */
export function userCorpusFiles(corporaDir: string): string[] {
  if (!existsSync(corporaDir) || !statSync(corporaDir).isDirectory()) return [];
  return readdirSync(corporaDir)
    .filter((f) => !f.startsWith('.') && isUserCorpusFile(f))
    .sort()
    .map((f) => join(corporaDir, f))
    .filter((p) => statSync(p).isFile());
}

/**
 * Where a user corpus named `nameOrPath` lives, or null: the path itself if it is a corpus file
 * that exists, else `<corporaDir>/<name>` with the name as given or with .txt / .jsonl added.
 * Two candidates (mine.txt and mine.jsonl) are ambiguous: the user must say which.
 */
export function resolveUserCorpus(nameOrPath: string, corporaDir: string): string | null {
  if (isUserCorpusFile(nameOrPath) && existsSync(nameOrPath)) return nameOrPath;
  const candidates = isUserCorpusFile(nameOrPath)
    ? [join(corporaDir, nameOrPath)]
    : USER_CORPUS_EXTENSIONS.map((ext) => join(corporaDir, nameOrPath + ext));
  const found = candidates.filter((p) => existsSync(p));
  if (found.length > 1) {
    throw new UserError(`corpus '${nameOrPath}' is ambiguous: ${found.join(' and ')} both exist; pass the file name`, 'E_CORPUS');
  }
  return found[0] ?? null;
}
