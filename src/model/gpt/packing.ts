// Packs documents into fixed-size rows for the transformer: BOS doc | BOS doc | … with targets
// doc EOS | doc EOS | …, positions restarting at 0 in every segment and a block-diagonal causal
// mask (segStart), so a token sees only its own document and no row position is wasted on
// padding. A document is trained exactly as it is sampled: from BOS alone. Documents longer than
// the context become one window (random start) — the same cropped view sampling uses past the
// context. All arrays are flat [rows × context]; segStart holds absolute indices.

import type { Rng } from '../../rng.js';
import { UserError } from '../../errors.js';

export interface PackedRows {
  rows: number;
  context: number;
  inputs: Int32Array;
  targets: Int32Array;
  positions: Int32Array;
  segStart: Int32Array;
  /** 1 where the target counts toward the loss, 0 for padding or already-counted targets. */
  weights: Float32Array;
  /** Eval packing: the document each counted target belongs to (−1 elsewhere). */
  owner: Int32Array;
}

export interface Vocab {
  vocabSize: number;
  bos: number;
  eos: number;
}

function emptyRows(rows: number, context: number): PackedRows {
  const n = rows * context;
  const segStart = new Int32Array(n);
  for (let i = 0; i < n; i++) segStart[i] = i; // unused positions attend only to themselves
  return {
    rows,
    context,
    inputs: new Int32Array(n),
    targets: new Int32Array(n),
    positions: new Int32Array(n),
    segStart,
    weights: new Float32Array(n),
    owner: new Int32Array(n).fill(-1),
  };
}

/** [BOS, ...doc, EOS], with every token checked against the vocabulary. */
export function framed(doc: readonly number[], v: Vocab): number[] {
  for (const t of doc) {
    if (!Number.isInteger(t) || t < 0 || t >= v.vocabSize || t === v.bos || t === v.eos) {
      throw new UserError(`token id ${t} is outside the model's vocabulary (size ${v.vocabSize}) or is BOS/EOS`, 'E_TOKEN');
    }
  }
  return [v.bos, ...doc, v.eos];
}

/** Writes the segment s[o .. o+len] (len inputs, their next tokens as targets) at absolute index at. */
function place(p: PackedRows, at: number, s: readonly number[], o: number, len: number, countFrom: number, owner: number): void {
  for (let k = 0; k < len; k++) {
    p.inputs[at + k] = s[o + k];
    p.targets[at + k] = s[o + k + 1];
    p.positions[at + k] = k;
    p.segStart[at + k] = at;
    if (k >= countFrom) {
      p.weights[at + k] = 1;
      p.owner[at + k] = owner;
    }
  }
}

/**
 * Training rows, filled completely: documents come from nextDoc() in order; one that does not
 * fit in what is left of a row contributes its prefix there (its next-token targets are as valid
 * as any) and the following document starts the next row.
 */
export function packTraining(rows: number, context: number, nextDoc: () => readonly number[], v: Vocab, rng: Rng): PackedRows {
  const p = emptyRows(rows, context);
  for (let r = 0; r < rows; r++) {
    let fill = 0;
    while (fill < context) {
      const s = framed(nextDoc(), v);
      const room = context - fill;
      const inputs = s.length - 1;
      let o = 0;
      let len = Math.min(inputs, room);
      // A document longer than the context, at a row start: a window at a random offset.
      if (inputs > context && fill === 0) {
        o = rng.int(inputs - context + 1);
        len = context;
      }
      place(p, r * context + fill, s, o, len, 0, -1);
      fill += len;
    }
  }
  return p;
}

/**
 * Evaluation segments of one framed document: every target exactly once. A document longer than
 * the context is covered by windows advancing `stride` targets at a time, each counting only its
 * new targets (so most targets see at least context − stride tokens of history).
 */
function evalSegments(s: readonly number[], context: number, stride: number) {
  const nTargets = s.length - 1;
  const segs: { o: number; len: number; countFrom: number }[] = [];
  if (nTargets <= context) return [{ o: 0, len: nTargets, countFrom: 0 }];
  segs.push({ o: 0, len: context, countFrom: 0 });
  let counted = context;
  while (counted < nTargets) {
    const end = Math.min(counted + stride, nTargets);
    const o = end - context;
    segs.push({ o, len: context, countFrom: counted - o });
    counted = end;
  }
  return segs;
}

/** Evaluation rows for logProbs: segments packed first-fit in order, the rest padded (weight 0). */
export function packEval(docs: readonly (readonly number[])[], context: number, v: Vocab): PackedRows[] {
  const stride = Math.max(1, Math.floor(context / 2));
  const all: { s: number[]; o: number; len: number; countFrom: number; owner: number }[] = [];
  docs.forEach((doc, i) => {
    const s = framed(doc, v);
    for (const seg of evalSegments(s, context, stride)) all.push({ s, ...seg, owner: i });
  });
  // Assign segments to rows, then build the rows in batches.
  const rowsOf: (typeof all)[] = [];
  let fill = context;
  for (const seg of all) {
    if (fill + seg.len > context) {
      rowsOf.push([]);
      fill = 0;
    }
    rowsOf[rowsOf.length - 1].push(seg);
    fill += seg.len;
  }
  return rowsOf.map((segs) => {
    const p = emptyRows(1, context);
    let at = 0;
    for (const seg of segs) {
      place(p, at, seg.s, seg.o, seg.len, seg.countFrom, seg.owner);
      at += seg.len;
    }
    return p;
  });
}

/** Concatenates single rows into one batch. */
export function concatRows(parts: readonly PackedRows[]): PackedRows {
  const context = parts[0].context;
  const rows = parts.reduce((a, p) => a + p.rows, 0);
  const out = emptyRows(rows, context);
  let at = 0;
  for (const p of parts) {
    out.inputs.set(p.inputs, at);
    out.targets.set(p.targets, at);
    out.positions.set(p.positions, at);
    out.weights.set(p.weights, at);
    out.owner.set(p.owner, at);
    for (let i = 0; i < p.segStart.length; i++) out.segStart[at + i] = p.segStart[i] + at;
    at += p.segStart.length;
  }
  return out;
}

/** Rows r0 … r1 − 1 of a batch as a batch of their own (segStart re-based to the slice). */
export function sliceRows(p: PackedRows, r0: number, r1: number): PackedRows {
  const a = r0 * p.context;
  const b = r1 * p.context;
  const segStart = p.segStart.slice(a, b);
  for (let i = 0; i < segStart.length; i++) segStart[i] -= a;
  return {
    rows: r1 - r0,
    context: p.context,
    inputs: p.inputs.slice(a, b),
    targets: p.targets.slice(a, b),
    positions: p.positions.slice(a, b),
    segStart,
    weights: p.weights.slice(a, b),
    owner: p.owner.slice(a, b),
  };
}
