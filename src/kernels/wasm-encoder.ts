// A minimal WebAssembly binary encoder: enough to write the few numeric kernels of simd.ts as
// code (loops unrolled by the generator) without a toolchain or a binary checked into the
// repository. A module imports one memory ("env" "memory") and exports functions whose
// parameters, locals and results are numbers or v128; the bodies are instruction bytes built
// with `Code`.

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const name = (s: string) => vec([...Buffer.from(s, 'utf8')].map((b) => [b]));

/** SIMD opcodes (after the 0xfd prefix) used by the kernels. */
const SIMD = {
  load: 0x00,
  shuffle: 0x0d,
  load32Splat: 0x09,
  store: 0x0b,
  const: 0x0c,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Max: 0xe9,
  f32x4RelaxedMadd: 0x105,
  f64x2Splat: 0x14,
  f64x2Sqrt: 0xef,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  f64x2PromoteLowF32x4: 0x5f,
  f32x4DemoteF64x2Zero: 0x5e,
} as const;

/** An instruction sequence; each method appends one instruction and returns `this`. */
export class Code {
  readonly bytes: number[] = [];
  private op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  private simd(op: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(op), ...imm);
  }
  get(i: number) { return this.op(0x20, ...uleb(i)); }
  set(i: number) { return this.op(0x21, ...uleb(i)); }
  tee(i: number) { return this.op(0x22, ...uleb(i)); }
  i32(n: number) { return this.op(0x41, ...sleb(n | 0)); }
  f32(x: number) {
    const b = new Uint8Array(new Float32Array([x]).buffer);
    return this.op(0x43, ...b);
  }
  add() { return this.op(0x6a); }
  sub() { return this.op(0x6b); }
  mul() { return this.op(0x6c); }
  divU() { return this.op(0x6e); }
  remU() { return this.op(0x70); }
  ltU() { return this.op(0x49); }
  eq() { return this.op(0x46); }
  and() { return this.op(0x71); }
  eqz() { return this.op(0x45); }
  f32Load(offset = 0) { return this.op(0x2a, 2, ...uleb(offset)); }
  f32Store(offset = 0) { return this.op(0x38, 2, ...uleb(offset)); }
  i32Load(offset = 0) { return this.op(0x28, 2, ...uleb(offset)); }
  f32Add() { return this.op(0x92); }
  f32Sub() { return this.op(0x93); }
  f32Mul() { return this.op(0x94); }
  f32Div() { return this.op(0x95); }
  f32Sqrt() { return this.op(0x91); }
  f32Max() { return this.op(0x97); }
  f64Add() { return this.op(0xa0); }
  f64Sub() { return this.op(0xa1); }
  f64Mul() { return this.op(0xa2); }
  f64Div() { return this.op(0xa3); }
  f64Eq() { return this.op(0x61); }
  f64Ne() { return this.op(0x62); }
  f64Lt() { return this.op(0x63); }
  f64Gt() { return this.op(0x64); }
  geS() { return this.op(0x4e); }
  geU() { return this.op(0x4f); }
  gtU() { return this.op(0x4b); }
  shl() { return this.op(0x74); }
  shrU() { return this.op(0x76); }
  i32TruncF64S() { return this.op(0xaa); }
  f64ConvertI32S() { return this.op(0xb7); }
  i64ReinterpretF64() { return this.op(0xbd); }
  f64ReinterpretI64() { return this.op(0xbf); }
  i64ExtendI32U() { return this.op(0xad); }
  i32WrapI64() { return this.op(0xa7); }
  i64(n: number) { return this.op(0x42, ...sleb(n | 0)); }
  i64Shl() { return this.op(0x86); }
  i64ShrU() { return this.op(0x88); }
  /** Returns from the function with the value(s) on the stack. */
  ret() { return this.op(0x0f); }
  f64(x: number) {
    return this.op(0x44, ...new Uint8Array(new Float64Array([x]).buffer));
  }
  f64Sqrt() { return this.op(0x9f); }
  f64PromoteF32() { return this.op(0xbb); }
  f32DemoteF64() { return this.op(0xb6); }
  leS() { return this.op(0x4c); }
  call(func: number) { return this.op(0x10, ...uleb(func)); }
  /** block … end; `br` depth 0 inside jumps past the end. */
  block(body: (c: this) => void) {
    this.op(0x02, 0x40);
    body(this);
    return this.op(0x0b);
  }
  /** loop … end; `br` depth 0 inside jumps back to the start. */
  loop(body: (c: this) => void) {
    this.op(0x03, 0x40);
    body(this);
    return this.op(0x0b);
  }
  /** if (pops an i32) … end. */
  if(body: (c: this) => void) {
    this.op(0x04, 0x40);
    body(this);
    return this.op(0x0b);
  }
  /** if (pops an i32) … else … end. */
  ifElse(then: (c: this) => void, otherwise: (c: this) => void) {
    this.op(0x04, 0x40);
    then(this);
    this.op(0x05);
    otherwise(this);
    return this.op(0x0b);
  }
  br(depth: number) { return this.op(0x0c, ...uleb(depth)); }
  brIf(depth: number) { return this.op(0x0d, ...uleb(depth)); }
  // SIMD; memory offsets in bytes (alignment hints: 16 bytes for v128, 4 for a splat).
  v128Load(offset = 0) { return this.simd(SIMD.load, 4, ...uleb(offset)); }
  v128Store(offset = 0) { return this.simd(SIMD.store, 4, ...uleb(offset)); }
  load32Splat(offset = 0) { return this.simd(SIMD.load32Splat, 2, ...uleb(offset)); }
  v128Zero() { return this.simd(SIMD.const, ...new Array(16).fill(0)); }
  f32x4Splat() { return this.simd(SIMD.f32x4Splat); }
  /** i8x16.shuffle of the two vectors on the stack, given as four 32-bit lanes (0–3 first, 4–7 second). */
  shuffle32(lanes: [number, number, number, number]) {
    return this.simd(SIMD.shuffle, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]));
  }
  f32x4ExtractLane(lane: number) { return this.simd(SIMD.f32x4ExtractLane, lane); }
  f64x2Splat() { return this.simd(SIMD.f64x2Splat); }
  f64x2Sqrt() { return this.simd(SIMD.f64x2Sqrt); }
  f64x2Add() { return this.simd(SIMD.f64x2Add); }
  f64x2Sub() { return this.simd(SIMD.f64x2Sub); }
  f64x2Mul() { return this.simd(SIMD.f64x2Mul); }
  f64x2Div() { return this.simd(SIMD.f64x2Div); }
  /** The two low float32 lanes as float64s. */
  f64x2PromoteLowF32x4() { return this.simd(SIMD.f64x2PromoteLowF32x4); }
  /** Two float64s rounded to float32 in the low lanes, zeros above. */
  f32x4DemoteF64x2Zero() { return this.simd(SIMD.f32x4DemoteF64x2Zero); }
  f32x4Add() { return this.simd(SIMD.f32x4Add); }
  f32x4Sub() { return this.simd(SIMD.f32x4Sub); }
  f32x4Mul() { return this.simd(SIMD.f32x4Mul); }
  f32x4Max() { return this.simd(SIMD.f32x4Max); }
  /** a·b + c of the three operands on the stack (a, b, c): fused where the CPU has FMA. */
  f32x4RelaxedMadd() { return this.simd(SIMD.f32x4RelaxedMadd); }
}

export interface FuncDef {
  name: string;
  params: ValType[];
  /** What the function returns (none by default). */
  results?: ValType[];
  locals: ValType[];
  body: Code;
}

/**
 * The module's bytes: imports env.memory (a shared memory when `sharedMemory`, as the threads'
 * common arrays are) and exports each function under its name; function k of `funcs` is called
 * as `call(k)`.
 */
export function encodeModule(funcs: readonly FuncDef[], options: { sharedMemory?: boolean } = {}): Uint8Array<ArrayBuffer> {
  const types = funcs.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec((f.results ?? []).map((t) => [t]))]);
  // Memory limits: at least one page; a shared memory must declare a maximum (here wasm32's 4 GiB).
  const limits = options.sharedMemory ? [0x03, 0x01, ...uleb(65536)] : [0x00, 0x01];
  const imports = [[...name('env'), ...name('memory'), 0x02, ...limits]];
  const exports = funcs.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]);
  const bodies = funcs.map((f) => {
    const body = [...vec(f.locals.map((t) => [1, t])), ...f.body.bytes, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcs.map((_, i) => uleb(i)))),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}
