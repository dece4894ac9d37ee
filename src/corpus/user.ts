// User corpora: a `.txt` file (one document per line, unlabelled) or a `.jsonl` file (one
// {"text", "label"} object per line). Every problem a user can fix is a UserError naming the
// file and the line, because a corpus with one bad line is usually otherwise fine. The bytes are
// checked before they are decoded: UTF-8 only (a Latin-1 file is refused with the line and byte
// offset, never decoded to U+FFFD), and bounded sizes (a document, the file), so a hostile file
// is refused with one line instead of exhausting memory.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { basename, extname, join } from 'node:path';
import { UserError } from '../errors.js';
import type { Corpus, Doc } from './types.js';

/** File extensions a user corpus may have. */
export const USER_CORPUS_EXTENSIONS = ['.txt', '.jsonl'] as const;

export function isUserCorpusFile(path: string): boolean {
  return (USER_CORPUS_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase());
}

/** Longest document (one line of the file) a user corpus may have, in bytes of UTF-8: 1 MiB. */
export const MAX_DOCUMENT_BYTES = 1 << 20;
/** Largest user corpus file, in bytes: 256 MiB (it is read into memory whole). */
export const MAX_CORPUS_BYTES = 256 << 20;

/** Offset of the first byte that is not part of valid UTF-8, or -1 (the slow path: errors only). */
function firstInvalidUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0) return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (b[i + k] & 0x3f);
    }
    if (cp < [0, 0x80, 0x800, 0x10000][n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** Line number (1-based) and offset within its line of byte `offset`. */
function lineOf(b: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = b.indexOf(10); i !== -1 && i < offset; i = b.indexOf(10, i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start };
}

/**
 * The text of a corpus file's bytes, or a UserError naming the file, the line and the byte:
 * invalid UTF-8, or a line longer than MAX_DOCUMENT_BYTES.
 */
export function decodeCorpus(bytes: Buffer, file: string): string {
  let line = 1;
  for (let start = 0; start < bytes.length; line++) {
    const end = bytes.indexOf(10, start);
    const stop = end === -1 ? bytes.length : end;
    if (stop - start > MAX_DOCUMENT_BYTES) {
      throw new UserError(`${file}:${line}: a document of ${stop - start} bytes; heatdeath reads documents (lines) of at most ${MAX_DOCUMENT_BYTES} bytes (1 MiB)`, 'E_CORPUS_LINE');
    }
    start = stop + 1;
  }
  if (!isUtf8(bytes)) {
    const offset = firstInvalidUtf8(bytes);
    const at = lineOf(bytes, offset);
    throw new UserError(`${file}:${at.line}: not valid UTF-8 at byte ${at.column} of the line (byte offset ${offset} of the file, 0x${bytes[offset].toString(16).padStart(2, '0')}); save the corpus as UTF-8`, 'E_CORPUS_ENCODING');
  }
  return bytes.toString('utf8');
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
  const size = statSync(path).size;
  if (size > MAX_CORPUS_BYTES) throw new UserError(`corpus file '${path}' has ${size} bytes; heatdeath reads corpus files of at most ${MAX_CORPUS_BYTES} bytes (256 MiB)`, 'E_CORPUS');
  const content = decodeCorpus(readFileSync(path), path);
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
