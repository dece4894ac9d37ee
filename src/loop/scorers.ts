// Scorers for curated loops (`--select SCORER`): each ranks a generation's candidate samples,
// and selection keeps the best of every group of M (src/loop/select.ts). A spec is
// `name[:argument][@noise=σ]`; the registry below is the one place a scorer is defined.
//   gen0-likelihood   log-likelihood per token under the generation-0 model (nats; higher = more typical)
//   label:<L>         1 when the classifier labels the candidate L, else 0 (a verifier; a reward on
//                     the label category alone, so the exact lane's selection map is exact for it)
//   label-prob:<L>    the classifier's probability of label L (a reward that also ranks within L)
//   length:<n>        closeness to a target length in tokens, −|length − n|
//   random            a seeded uniform score: the control, selection that selects nothing
// `@noise=σ` adds seeded Gaussian noise of standard deviation σ (in the scorer's own units) to
// every score: a verifier of tunable quality, σ = 0 perfect, σ → ∞ the `random` control.

import { UserError } from '../errors.js';
import type { Rng } from '../rng.js';

/** What a scorer sees of one candidate. */
export interface Candidate {
  text: string;
  tokens: readonly number[];
  /** Per-token log-likelihood under the generation-0 model (computed for every document). */
  gen0Loglik: number;
}

/** What scorers may use besides the candidates. */
export interface ScoringContext {
  /** P(label | text) for each label of the corpus (in `labels` order), or null for an unlabelled corpus. */
  labelProbabilities: ((text: string) => number[]) | null;
  labels: readonly string[];
  /** A stream for this generation's scoring (random scores, noise). */
  rng: Rng;
}

interface ScorerDef {
  /** Help line. */
  help: string;
  /** Checks the argument (after ':'); returns an error text or null. */
  check(arg: string | null): string | null;
  score(c: Candidate, arg: string | null, ctx: ScoringContext): number;
}

export const scorers: Readonly<Record<string, ScorerDef>> = Object.freeze({
  'gen0-likelihood': {
    help: 'log-likelihood per token under the generation-0 model',
    check: (arg) => (arg === null ? null : `takes no argument`),
    score: (c) => c.gen0Loglik,
  },
  label: {
    help: 'a verifier: 1 when the classifier labels the document L, else 0 (label:<L>)',
    check: (arg) => (arg ? null : 'needs a label, e.g. label:female'),
    score: (c, arg, ctx) => {
      const p = ctx.labelProbabilities!(c.text);
      return ctx.labels[p.indexOf(Math.max(...p))] === arg ? 1 : 0;
    },
  },
  'label-prob': {
    help: "a reward: the classifier's probability of label L (label-prob:<L>)",
    check: (arg) => (arg ? null : 'needs a label, e.g. label-prob:female'),
    score: (c, arg, ctx) => ctx.labelProbabilities!(c.text)[ctx.labels.indexOf(arg!)],
  },
  length: {
    help: 'closeness to a target length in tokens (length:<n>)',
    check: (arg) => (arg !== null && /^\d+$/.test(arg) ? null : 'needs a whole number of tokens, e.g. length:6'),
    score: (c, arg) => -Math.abs(c.tokens.length - Number(arg)),
  },
  random: {
    help: 'a seeded uniform score (the control)',
    check: (arg) => (arg === null ? null : `takes no argument`),
    score: (_c, _arg, ctx) => ctx.rng.next(),
  },
});

export interface Scorer {
  /** The normalised spec, as stored in the run config. */
  spec: string;
  name: string;
  arg: string | null;
  noise: number;
}

/** Parses `name[:arg][@noise=σ]`; one clear line on a bad spec. */
export function parseScorer(spec: string): Scorer {
  const m = /^([a-z0-9-]+)(?::([^@]+))?(?:@noise=([^@]+))?$/.exec(spec.trim());
  const known = Object.keys(scorers).join(', ');
  if (!m) throw new UserError(`--select '${spec}' is not SCORER[:ARG][@noise=σ] (scorers: ${known})`);
  const [, name, arg = null, noiseText] = m;
  const def = scorers[name];
  if (!def) throw new UserError(`unknown scorer '${name}' (choose from ${known})`);
  const problem = def.check(arg);
  if (problem) throw new UserError(`--select ${name} ${problem}`);
  const noise = noiseText === undefined ? 0 : Number(noiseText);
  if (!(Number.isFinite(noise) && noise >= 0)) throw new UserError(`--select noise must be a number ≥ 0, got '${noiseText}'`);
  const normal = `${name}${arg === null ? '' : `:${arg}`}${noise > 0 ? `@noise=${noise}` : ''}`;
  return { spec: normal, name, arg, noise };
}

/** Checks a scorer against the run's corpus (a label scorer needs that label). */
export function checkScorer(s: Scorer, labels: readonly string[]): void {
  if ((s.name === 'label' || s.name === 'label-prob') && !labels.includes(s.arg!)) {
    throw new UserError(labels.length === 0 ? `--select ${s.spec}: the corpus has no labels` : `--select ${s.spec}: no label '${s.arg}' (labels: ${labels.join(', ')})`);
  }
}

/** Scores of the candidates, in order; noise is drawn after each score from the same stream. */
export function scoreAll(s: Scorer, candidates: readonly Candidate[], ctx: ScoringContext): number[] {
  const def = scorers[s.name];
  return candidates.map((c) => {
    const x = def.score(c, s.arg, ctx);
    return s.noise > 0 ? x + s.noise * ctx.rng.normal() : x;
  });
}
