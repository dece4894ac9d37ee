// The WebAssembly functions behind simd.ts's matrix products, written as code with
// wasm-encoder.ts: gemm (register-blocked micro-kernels of 4 × 8 and 5 × 8 output tiles over
// packed panels), pack (copies an operand, transposed or not, into panels) and colsum
// (the column sums of a row-major matrix, the LayerNorm gain and bias gradients). simd.ts
// compiles them into one module on the wasm backend's memory and drives them.
//
// Bit-for-bit contract: an element of a product is one running multiply-add over k in order,
// starting from 0, in passes of KC values of k whose partial sums are added to C pass by pass.
// Tiles, panel widths and loop orders over rows and columns only change the speed; anything
// that changed that chain (its order, the pass depth, multiply-add vs multiply then add) would
// change the trained weights, which the behaviour pin (test/behaviour-pin.test.ts) would catch.

import { Code, I32, V128, type FuncDef } from './wasm-encoder.js';

/**
 * Rows of the two micro-kernels' output tiles, and their columns (2 vectors). The 5-row tile has
 * 10 accumulators — as many multiply-adds as a core keeps in flight (2 FMA units × 5 cycles of
 * latency) — the 4-row one 8; the 4-row tile serves products of few rows (sampling one document),
 * where a fifth row would be mostly padding.
 */
export const MR_WIDE = 5;
export const MR_NARROW = 4;
export const NR = 8;
/** Depth of one pass over the packed panels, so that a pass's B panels stay in the core's cache. */
export const KC = 256;

/**
 * gemm(ap, bp, cp, mPanels, nPanels, depth, aStride, bStride, crs, accumulate, wide): C tiles
 * [MR, NR] at cp + i·MR·crs + j·NR·4 ← (C +) Σ_k A panel i [k][MR] ⊗ B panel j [k][NR], over
 * `depth` values of k. Panels are `aStride` / `bStride` bytes apart; crs is C's row stride in bytes.
 * Every element of C is one running multiply-add over k in order (then + C when accumulating),
 * whatever the tile's shape: the tiles differ in speed only, never in a result bit.
 */
const [ap, bp, cp, mPanels, nPanels, depth, aStride, bStride, crs, accumulate, wide] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

/** The loop nest of gemm for tiles of MR rows (the two share the function's locals). */
function gemmNest(code: Code, fma: boolean, MR: number): void {
  const [ip, jp, a, b, k, c, aRow, cRow] = [11, 12, 13, 14, 15, 16, 17, 18];
  const acc = (r: number, h: number) => 19 + r * 2 + h;
  const bv = (h: number) => 19 + MR * 2 + h;
  const av = 19 + MR * 2 + 2;
  /** The 5-row kernel's first four A values as one vector, broadcast lane by lane. */
  const aQuad = av + 1;
  code.i32(0).set(ip).get(ap).set(aRow).get(cp).set(cRow);
  code.block((c0) => c0.loop((outer) => {
    outer.get(ip).get(mPanels).ltU().eqz().brIf(1);
    outer.i32(0).set(jp).get(bp).set(b);
    outer.block((c1) => c1.loop((inner) => {
      inner.get(jp).get(nPanels).ltU().eqz().brIf(1);
      for (let r = 0; r < MR; r++) for (let h = 0; h < 2; h++) inner.v128Zero().set(acc(r, h));
      inner.get(aRow).set(a).get(depth).set(k);
      // One k per iteration: a row of 8 of B, MR of A. V8 issues a block's loads before its
      // arithmetic, so every loaded value is live at once: 5 broadcast loads beside 10
      // accumulators would spill (16 vector registers), hence one vector load of 4 A values
      // broadcast by shuffles (computed next to their use). Unrolling k spills the same way.
      inner.loop((kl) => {
        for (let h = 0; h < 2; h++) kl.get(b).v128Load(h * 16).set(bv(h));
        if (MR > 4) kl.get(a).v128Load().set(aQuad);
        for (let r = 0; r < MR; r++) {
          if (MR > 4 && r < 4) kl.get(aQuad).get(aQuad).shuffle32([r, r, r, r]).set(av);
          else kl.get(a).load32Splat(r * 4).set(av);
          for (let h = 0; h < 2; h++) {
            if (fma) kl.get(av).get(bv(h)).get(acc(r, h)).f32x4RelaxedMadd().set(acc(r, h));
            else kl.get(av).get(bv(h)).f32x4Mul().get(acc(r, h)).f32x4Add().set(acc(r, h));
          }
        }
        kl.get(a).i32(MR * 4).add().set(a);
        kl.get(b).i32(NR * 4).add().set(b);
        kl.get(k).i32(1).sub().tee(k).brIf(0);
      });
      inner.get(cRow).get(jp).i32(NR * 4).mul().add().set(c);
      for (let r = 0; r < MR; r++) {
        for (let h = 0; h < 2; h++) {
          inner.get(accumulate).if((t) => t.get(c).v128Load(h * 16).get(acc(r, h)).f32x4Add().set(acc(r, h)));
          inner.get(c).get(acc(r, h)).v128Store(h * 16);
        }
        inner.get(c).get(crs).add().set(c);
      }
      // From the end of this panel's depth block to the same block of the next panel.
      inner.get(bp).get(jp).i32(1).add().tee(jp).get(bStride).mul().add().set(b);
      inner.br(0);
    }));
    outer.get(aRow).get(aStride).add().set(aRow);
    outer.get(cRow).get(crs).i32(MR).mul().add().set(cRow);
    outer.get(ip).i32(1).add().set(ip);
    outer.br(0);
  }));
}

/**
 * One function for both tiles (wide ≠ 0: 5 rows, else 4), so that V8, which compiles a wasm
 * function with its optimizing tier only once it has run a while, has the narrow tile optimized
 * by the wide one's use in training (as two functions, the narrow one, seldom used in training,
 * ran unoptimized when sampling one document: ~0.7× the speed).
 */
function gemmFunc(fma: boolean): FuncDef {
  const code = new Code();
  code.get(wide).ifElse((w) => gemmNest(w, fma, MR_WIDE), (n) => gemmNest(n, fma, MR_NARROW));
  return { name: 'gemm', params: new Array(11).fill(I32), locals: [...new Array(8).fill(I32), ...new Array(MR_WIDE * 2 + 4).fill(V128)], body: code };
}

/**
 * Depth of the blocks pack() copies at a time when L's rows are adjacent (a transposed operand):
 * the source rows of a block stay in L1 across all panels. A row-major operand is read in order
 * panel by panel anyway and goes in one block.
 */
export const PACK_KB = 16;

/**
 * pack(src, rs, cs, R, K, dst, w, kBlock): the matrix L[r, k] = f32 at src + r·rs + k·cs
 * (strides in bytes), R × K, into panels of w rows (w ≥ 4), dst[p][k][l] = L[p·w + l, k]. Rows
 * past R in the last panel are skipped (the caller zeroes them). Depth goes in blocks of kBlock
 * (a multiple of 4), all panels per block.
 * Where L's rows are adjacent floats (rs = 4) a full panel's values per k are copied as vectors;
 * where its columns are (cs = 4, a row-major operand) 4 × 4 blocks are transposed in registers;
 * otherwise element by element — and so are the last w mod 4 rows of a panel in the first two cases.
 */
function packFunc(): FuncDef {
  const [src, rs, cs, R, K, dst, w, kBlock] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [p0, lw, s, d, k, l, step, , sp, dp, k0, kn, wv] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]; // 15: unused since the general 4 × 4 transpose went (every full panel has a tile width)
  const ro = (q: number) => 20 + q; // q·rs, for q = 1 … 7 (the fast paths' row offsets)
  const vr = (q: number) => 28 + q; // four loaded rows
  const vt = (q: number) => 32 + q; // and their interleaved halves
  const code = new Code();
  /** Four vectors (4 floats of 4 rows) loaded by load(c, q) as 4 columns, stored by store(c, q, value). */
  const transposeWith = (c: Code, load: (c: Code, q: number) => void, store: (c: Code, q: number, value: (c: Code) => void) => void) => {
    for (let q = 0; q < 4; q++) {
      load(c, q);
      c.set(vr(q));
    }
    c.get(vr(0)).get(vr(1)).shuffle32([0, 4, 1, 5]).set(vt(0));
    c.get(vr(0)).get(vr(1)).shuffle32([2, 6, 3, 7]).set(vt(1));
    c.get(vr(2)).get(vr(3)).shuffle32([0, 4, 1, 5]).set(vt(2));
    c.get(vr(2)).get(vr(3)).shuffle32([2, 6, 3, 7]).set(vt(3));
    const cols: [number, number, [number, number, number, number]][] = [[0, 2, [0, 1, 4, 5]], [0, 2, [2, 3, 6, 7]], [1, 3, [0, 1, 4, 5]], [1, 3, [2, 3, 6, 7]]];
    cols.forEach(([x, y, lanes], q) => store(c, q, (v) => v.get(vt(x)).get(vt(y)).shuffle32(lanes)));
  };
  /** sp + row offset of row x of the panel (x < 8, its offset in ro). */
  const rowAt = (c: Code, x: number) => (x === 0 ? c.get(sp) : c.get(sp).get(ro(x)).add());
  /**
   * A full panel of width W (a tiles' width) from a row-major L (cs = 4): all groups of 4 k by
   * register transposes with constant store offsets (the rows' offsets computed once); s, d
   * and k are left at the remaining k (fewer than 4) for the per-k loop.
   */
  const fastTranspose = (c: Code, W: number) => {
    for (let q = 1; q < W; q++) c.get(rs).i32(q).mul().set(ro(q));
    c.get(s).set(sp).get(d).set(dp);
    c.block((b) => b.loop((kbs) => {
      kbs.get(k).i32(4).ltU().brIf(1);
      for (let g = 0; g + 4 <= W; g += 4) {
        transposeWith(kbs, (t, q) => rowAt(t, g + q).v128Load(), (t, q, value) => {
          t.get(dp);
          value(t);
          t.v128Store(q * W * 4 + g * 4);
        });
      }
      for (let x = W - (W % 4); x < W; x++) {
        for (let q = 0; q < 4; q++) {
          kbs.get(dp);
          rowAt(kbs, x).f32Load(q * 4);
          kbs.f32Store(q * W * 4 + x * 4);
        }
      }
      kbs.get(sp).i32(16).add().set(sp);
      kbs.get(dp).i32(16 * W).add().set(dp);
      kbs.get(k).i32(4).sub().set(k);
      kbs.br(0);
    }));
    c.get(sp).set(s).get(dp).set(d);
  };
  /** A full panel of width W whose rows are adjacent floats (rs = 4): W floats per k, all k. */
  const fastCopy = (c: Code, W: number) => {
    c.block((b) => b.loop((ks) => {
      ks.get(k).eqz().brIf(1);
      for (let o = 0; o + 4 <= W; o += 4) ks.get(d).get(s).v128Load(o * 4).v128Store(o * 4);
      for (let x = W - (W % 4); x < W; x++) ks.get(d).get(s).f32Load(x * 4).f32Store(x * 4);
      ks.get(s).get(cs).add().set(s);
      ks.get(d).i32(W * 4).add().set(d);
      ks.get(k).i32(1).sub().set(k);
      ks.br(0);
    }));
  };
  /** for (v = from; v < bound; v += by) body — the bound re-read each time (a local). */
  const upTo = (c: Code, v: number, bound: (c: Code) => void, by: number, body: (c: Code) => void, from = (f: Code) => f.i32(0)) => {
    from(c);
    c.set(v);
    c.block((b) => b.loop((lp) => {
      lp.get(v);
      bound(lp);
      lp.ltU().eqz().brIf(1);
      body(lp);
      lp.get(v).i32(by).add().set(v);
      lp.br(0);
    }));
  };
  code.get(w).i32(4).mul().set(step);
  // wv: the rows of a panel that go in groups of 4
  code.get(w).i32(-4).and().set(wv);
  upTo(code, k0, (c) => c.get(K), 0, (blocks) => {
    // kn = min(kBlock, K − k0)
    blocks.get(K).get(k0).sub().set(kn);
    blocks.get(kn).get(kBlock).ltU().eqz().if((t) => t.get(kBlock).set(kn));
    upTo(blocks, p0, (c) => c.get(R), 0, (panels) => {
      // lw = min(w, R − p0)
      panels.get(R).get(p0).sub().set(lw);
      panels.get(lw).get(w).ltU().eqz().if((t) => t.get(w).set(lw));
      panels.get(src).get(p0).get(rs).mul().add().get(k0).get(cs).mul().add().set(s);
      panels.get(dst).get(p0).get(K).mul().i32(4).mul().add().get(k0).get(step).mul().add().set(d);
      panels.get(kn).set(k);
      panels.block((paths) => {
        // The tiles' widths: code with constant offsets (packing was ~1/8 of a product's time).
        for (const W of [MR_NARROW, MR_WIDE, NR]) {
          paths.get(lw).i32(W).eq().get(w).i32(W).eq().and().get(cs).i32(4).eq().and().if((t) => {
            fastTranspose(t, W);
            t.br(1);
          });
          paths.get(lw).i32(W).eq().get(w).i32(W).eq().and().get(rs).i32(4).eq().and().if((t) => {
            fastCopy(t, W);
            t.br(1);
          });
        }
      });
      panels.block((c1) => c1.loop((ks) => {
        ks.get(k).eqz().brIf(1);
        ks.get(rs).i32(4).eq().get(lw).get(w).eq().and().ifElse(
          (vecs) => {
            upTo(vecs, l, (c) => c.get(wv).i32(4).mul(), 16, (lv) => lv.get(d).get(l).add().get(s).get(l).add().v128Load().v128Store());
            upTo(vecs, l, (c) => c.get(w), 1, (ls) => ls.get(d).get(l).i32(4).mul().add().get(s).get(l).i32(4).mul().add().f32Load().f32Store(), (f) => f.get(wv));
          },
          (scalars) => upTo(scalars, l, (c) => c.get(lw), 1, (ls) => ls.get(d).get(l).i32(4).mul().add().get(s).get(l).get(rs).mul().add().f32Load().f32Store()),
        );
        ks.get(s).get(cs).add().set(s);
        ks.get(d).get(step).add().set(d);
        ks.get(k).i32(1).sub().set(k);
        ks.br(0);
      }));
      // next panel: p0 += w (upTo's step is the local w, added here)
      panels.get(p0).get(w).add().set(p0);
    });
    blocks.get(k0).get(kBlock).add().set(k0);
  });
  return { name: 'pack', params: new Array(8).fill(I32), locals: [...new Array(20).fill(I32), ...new Array(8).fill(V128)], body: code };
}

/**
 * colsum(src, rows, cols, dst): dst[j] = Σ_i X[i, j] for the row-major X [rows, cols] at src,
 * cols a multiple of 16, as the ones-row product 1ᵀ·X computes it: in passes of KC rows, each
 * summed in order from 0 and added to the running total (a multiply-add by 1 is an add, rounded
 * once). Four column vectors at a time, so that each pass reads whole cache lines.
 */
function colsumFunc(): FuncDef {
  const [src, rows, cols, dst] = [0, 1, 2, 3];
  const [j, i0, i, p, rowBytes, n] = [4, 5, 6, 7, 8, 9];
  const acc = (q: number) => 10 + q;
  const tot = (q: number) => 14 + q;
  const code = new Code();
  code.get(cols).i32(4).mul().set(rowBytes);
  code.i32(0).set(j);
  code.block((c0) => c0.loop((groups) => {
    groups.get(j).get(cols).ltU().eqz().brIf(1);
    groups.i32(0).set(i0);
    groups.block((c1) => c1.loop((passes) => {
      passes.get(i0).get(rows).ltU().eqz().brIf(1);
      for (let q = 0; q < 4; q++) passes.v128Zero().set(acc(q));
      // n = min(KC, rows − i0) rows in this pass, from row i0
      passes.get(rows).get(i0).sub().set(n);
      passes.get(n).i32(KC).ltU().eqz().if((t) => t.i32(KC).set(n));
      passes.get(src).get(i0).get(rowBytes).mul().add().get(j).i32(4).mul().add().set(p);
      passes.get(n).set(i);
      passes.loop((r) => {
        for (let q = 0; q < 4; q++) r.get(acc(q)).get(p).v128Load(q * 16).f32x4Add().set(acc(q));
        r.get(p).get(rowBytes).add().set(p);
        r.get(i).i32(1).sub().tee(i).brIf(0);
      });
      // the first pass is the total; later ones are added to it (C + pass, as the product does)
      passes.get(i0).eqz().ifElse(
        (first) => { for (let q = 0; q < 4; q++) first.get(acc(q)).set(tot(q)); },
        (later) => { for (let q = 0; q < 4; q++) later.get(tot(q)).get(acc(q)).f32x4Add().set(tot(q)); },
      );
      passes.get(i0).i32(KC).add().set(i0);
      passes.br(0);
    }));
    for (let q = 0; q < 4; q++) groups.get(dst).get(j).i32(4).mul().add().get(tot(q)).v128Store(q * 16);
    groups.get(j).i32(16).add().set(j);
    groups.br(0);
  }));
  return { name: 'colsum', params: new Array(4).fill(I32), locals: [...new Array(6).fill(I32), ...new Array(8).fill(V128)], body: code };
}

type Gemm = (ap: number, bp: number, cp: number, mPanels: number, nPanels: number, depth: number, aStride: number, bStride: number, crs: number, accumulate: number, wide: number) => void;

/** The module's exports, in the order productFuncs lists them. */
export interface KernelExports {
  gemm: Gemm;
  pack(src: number, rs: number, cs: number, R: number, K: number, dst: number, w: number, kBlock: number): void;
  colsum(src: number, rows: number, cols: number, dst: number): void;
}

/** The functions of the product module; `fma` selects relaxed multiply-add over multiply then add. */
export function productFuncs(fma: boolean): FuncDef[] {
  return [gemmFunc(fma), packFunc(), colsumFunc()];
}
