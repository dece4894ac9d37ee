// The `synthetic` corpus: short sentences from a small stochastic grammar with K = 4 topics whose
// proportions are known exactly. Real corpora only give an empirical label histogram; here the
// truth is known, so tests and reports can check how far a closed loop moves away from it.
// Generated with a fixed seed: the corpus is the same on every machine and every run.

import { drawIndex, rngFor, type Rng } from '../rng.js';
import type { Doc } from './types.js';

/** The topics and their true proportions (unequal on purpose: mode collapse has a clear winner). */
export const SYNTHETIC_TOPICS = ['weather', 'kitchen', 'sport', 'space'] as const;
export type SyntheticTopic = (typeof SYNTHETIC_TOPICS)[number];
export const SYNTHETIC_PROPORTIONS: Readonly<Record<SyntheticTopic, number>> = Object.freeze({
  weather: 0.4,
  kitchen: 0.3,
  sport: 0.2,
  space: 0.1,
});

/** Number of documents: a few thousand, enough for a tiny model, small enough to train fast. */
export const SYNTHETIC_SIZE = 4000;
/** The generator's seed; changing it changes the corpus (and every corpus hash built on it). */
export const SYNTHETIC_SEED = 'synthetic-v1';

interface Lexicon {
  nouns: readonly string[];
  adjectives: readonly string[];
  verbs: readonly string[]; // transitive, third person singular
  intransitive: readonly string[];
}

// Each topic has its own content words, so a document's topic can be read off its text;
// determiners, prepositions and adverbs are shared, so topics are not trivially separable by
// every word.
const LEXICON: Readonly<Record<SyntheticTopic, Lexicon>> = {
  weather: {
    nouns: ['rain', 'wind', 'cloud', 'storm', 'fog', 'sun', 'snow', 'sky', 'breeze', 'frost'],
    adjectives: ['cold', 'grey', 'wet', 'warm', 'heavy', 'bright'],
    verbs: ['covers', 'soaks', 'hides', 'chills', 'follows'],
    intransitive: ['falls', 'clears', 'drifts', 'blows'],
  },
  kitchen: {
    nouns: ['soup', 'bread', 'pan', 'onion', 'oven', 'knife', 'pot', 'sauce', 'cook', 'spoon'],
    adjectives: ['hot', 'salty', 'fresh', 'sweet', 'burnt', 'thick'],
    verbs: ['stirs', 'slices', 'boils', 'tastes', 'bakes'],
    intransitive: ['simmers', 'burns', 'cools', 'rises'],
  },
  sport: {
    nouns: ['team', 'ball', 'coach', 'goal', 'match', 'player', 'referee', 'crowd', 'field'],
    adjectives: ['fast', 'tired', 'young', 'proud', 'loud'],
    verbs: ['kicks', 'wins', 'passes', 'blocks', 'cheers'],
    intransitive: ['scores', 'runs', 'loses', 'jumps'],
  },
  space: {
    nouns: ['star', 'planet', 'comet', 'moon', 'rocket', 'orbit', 'galaxy', 'probe'],
    adjectives: ['distant', 'dark', 'silent', 'vast', 'icy'],
    verbs: ['circles', 'passes', 'lights', 'pulls'],
    intransitive: ['spins', 'glows', 'drifts', 'fades'],
  },
};

const DETERMINERS = ['the', 'a', 'every', 'one'] as const;
const PREPOSITIONS = ['over', 'near', 'under', 'behind', 'after'] as const;
const ADVERBS = ['slowly', 'again', 'today', 'quietly', 'at last'] as const;

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)];
}

/** NP → Det [Adj] N: an adjective half of the time. */
function nounPhrase(rng: Rng, lex: Lexicon): string {
  const det = pick(rng, DETERMINERS);
  const noun = pick(rng, lex.nouns);
  return rng.next() < 0.5 ? `${det} ${pick(rng, lex.adjectives)} ${noun}` : `${det} ${noun}`;
}

/**
 * S → NP VP [PP] '.', VP → V NP | V_intr [Adv]. Sentences are 3 to about 12 words: long enough
 * to carry a topic, short enough for a small model to learn quickly.
 */
export function synthesizeSentence(rng: Rng, topic: SyntheticTopic): string {
  const lex = LEXICON[topic];
  const parts = [nounPhrase(rng, lex)];
  if (rng.next() < 0.6) parts.push(pick(rng, lex.verbs), nounPhrase(rng, lex));
  else {
    parts.push(pick(rng, lex.intransitive));
    if (rng.next() < 0.5) parts.push(pick(rng, ADVERBS));
  }
  if (rng.next() < 0.3) parts.push(pick(rng, PREPOSITIONS), nounPhrase(rng, lex));
  const sentence = parts.join(' ') + '.';
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

/** The corpus: `size` documents, topic drawn from the true proportions, label = topic. */
export function generateSyntheticDocs(size = SYNTHETIC_SIZE, seed: string | number = SYNTHETIC_SEED): Doc[] {
  const rng = rngFor(seed, 'synthetic-corpus');
  const weights = SYNTHETIC_TOPICS.map((t) => SYNTHETIC_PROPORTIONS[t]);
  const docs: Doc[] = [];
  for (let i = 0; i < size; i++) {
    const topic = SYNTHETIC_TOPICS[drawIndex(rng, weights)];
    docs.push({ text: synthesizeSentence(rng, topic), label: topic });
  }
  return docs;
}
