// Math.exp as WebAssembly code, bit for bit: the kernels that need e^x (attention's softmax)
// call this function inside their module instead of calling out to JavaScript's Math.exp, which
// cost a crossing from wasm to JS for every attention weight (~12 % of a sampling step).
//
// Bit for bit because it is the same algorithm with the same float64 operations in the same
// order: V8's Math.exp is fdlibm's __ieee754_exp as FreeBSD's msun has it (V8's
// src/base/ieee754.cc, with its one addition: exp(1) returns E), and IEEE-754 add, subtract,
// multiply and divide are exactly rounded in wasm as in C. test/wasm-exp.test.ts compares it with
// Math.exp on every float32 argument of a wide range and on float64 arguments of all magnitudes.
//
// The algorithm: reduce x = k·ln2 + r with |r| ≤ ln2/2 (ln2 split in a high part whose products
// with k are exact and a low part), approximate e^r by a rational function through a degree-5
// polynomial in r², then scale by 2^k by building 2^k's bits.

import { Code, F64, I32, type FuncDef } from './wasm-encoder.js';

const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.4426950408889633870;
const P = [1.66666666666666019037e-1, -2.77777777770155933842e-3, 6.61375632143793436117e-5, -1.65339022054652515390e-6, 4.13813679705723846039e-8];
const O_THRESHOLD = 7.09782712893383973096e2;
const U_THRESHOLD = -7.45133219101941108420e2;
const TWO_M1000 = 9.33263618503218878990e-302;
const TWO_1023 = 8.988465674311579539e307;

/** exp(x: f64) → f64, named `exp`; call it as `call(index)` where the module places it. */
export function expFunc(): FuncDef {
  const x = 0;
  const [hx, xsb, k] = [1, 2, 3]; // i32
  const [hi, lo, t, c, y, twopk] = [4, 5, 6, 7, 8, 9]; // f64
  const b = new Code();
  // hx = high word of x; xsb = its sign; hx = high word of |x|
  b.get(x).i64ReinterpretF64().i64(32).i64ShrU().i32WrapI64().set(hx);
  b.get(hx).i32(31).shrU().set(xsb);
  b.get(hx).i32(0x7fffffff).and().set(hx);
  // |x| ≥ 709.78: NaN, ±∞, overflow, underflow
  b.get(hx).i32(0x40862e42).geU().if((o) => {
    o.get(hx).i32(0x7ff00000).geU().if((n) => {
      n.get(x).get(x).f64Ne().if((q) => q.get(x).get(x).f64Add().ret()); // NaN
      n.get(xsb).if((q) => q.f64(0).ret());
      n.get(x).ret(); // +∞
    });
    o.get(x).f64(O_THRESHOLD).f64Gt().if((q) => q.f64(Infinity).ret());
    o.get(x).f64(U_THRESHOLD).f64Lt().if((q) => q.f64(0).ret());
  });
  b.i32(0).set(k);
  b.f64(0).set(lo);
  // argument reduction: x = hi − lo, with k·ln2 taken out
  b.get(hx).i32(0x3fd62e42).gtU().ifElse(
    (r) => {
      r.get(hx).i32(0x3ff0a2b2).ltU().ifElse(
        (s) => {
          s.get(x).f64(1).f64Eq().if((q) => q.f64(Math.E).ret());
          s.get(xsb).ifElse(
            (n) => n.get(x).f64(-LN2_HI).f64Sub().set(hi).f64(-LN2_LO).set(lo).i32(-1).set(k),
            (p) => p.get(x).f64(LN2_HI).f64Sub().set(hi).f64(LN2_LO).set(lo).i32(1).set(k),
          );
        },
        (s) => {
          // k = (int)(invln2·x ± 0.5), truncated toward zero as C's cast
          s.get(x).f64(INV_LN2).f64Mul();
          s.get(xsb).ifElse((n) => n.f64(-0.5).set(t), (p) => p.f64(0.5).set(t));
          s.get(t).f64Add().i32TruncF64S().set(k);
          s.get(k).f64ConvertI32S().set(t);
          s.get(x).get(t).f64(LN2_HI).f64Mul().f64Sub().set(hi);
          s.get(t).f64(LN2_LO).f64Mul().set(lo);
        },
      );
      r.get(hi).get(lo).f64Sub().set(x);
    },
    // |x| < 2^-28: 1 + x
    (r) => r.get(hx).i32(0x3e300000).ltU().if((q) => q.f64(1).get(x).f64Add().ret()),
  );
  // twopk = 2^k (2^(k+1000) below the normal range, scaled back by 2^-1000 at the end)
  b.get(k).i32(-1021).geS().ifElse((n) => n.get(k).i32(20).shl().set(hx), (s) => s.get(k).i32(1000).add().i32(20).shl().set(hx));
  b.get(hx).i32(0x3ff00000).add().i64ExtendI32U().i64(32).i64Shl().f64ReinterpretI64().set(twopk);
  // c = x − t·(P1 + t·(P2 + t·(P3 + t·(P4 + t·P5)))), t = x²
  b.get(x).get(x).f64Mul().set(t);
  b.get(x).get(t);
  b.f64(P[0]).get(t).f64(P[1]).get(t).f64(P[2]).get(t).f64(P[3]).get(t).f64(P[4]).f64Mul().f64Add().f64Mul().f64Add().f64Mul().f64Add().f64Mul().f64Add();
  b.f64Mul().f64Sub().set(c);
  // k = 0: 1 − ((x·c)/(c − 2) − x)
  b.get(k).eqz().if((q) => q.f64(1).get(x).get(c).f64Mul().get(c).f64(2).f64Sub().f64Div().get(x).f64Sub().f64Sub().ret());
  // y = 1 − ((lo − (x·c)/(2 − c)) − hi)
  b.f64(1).get(lo).get(x).get(c).f64Mul().f64(2).get(c).f64Sub().f64Div().f64Sub().get(hi).f64Sub().f64Sub().set(y);
  b.get(k).i32(-1021).geS().ifElse(
    (n) => {
      n.get(k).i32(1024).eq().if((q) => q.get(y).f64(2).f64Mul().f64(TWO_1023).f64Mul().ret());
      n.get(y).get(twopk).f64Mul().ret();
    },
    (s) => s.get(y).get(twopk).f64Mul().f64(TWO_M1000).f64Mul().ret(),
  );
  b.f64(0); // not reached: every branch above returns
  return { name: 'exp', params: [F64], results: [F64], locals: [I32, I32, I32, F64, F64, F64, F64, F64, F64], body: b };
}
