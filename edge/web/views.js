// The seven views a digit is read in, and their pooling: a port of edge/runtime/views.py, integer for
// integer, so that the page makes exactly the views Python makes (the input; moved one pixel right,
// left, down, up; turned 6 degrees each way) and pools the model's answers the same way.
const SIDE = 28, ONE = 4096;
const COS_6 = 4074, SIN_6 = 428;  // round(cos(6 deg) * 4096), round(sin(6 deg) * 4096)
const SHIFTS = [[1, 0], [-1, 0], [0, 1], [0, -1]];  // a view's pixel (x, y) is the input's (x - dx, y - dy)
const TURNS = [[COS_6, SIN_6], [COS_6, -SIN_6]];
const FLOOR = 1 / 512;  // a probability of 0 from a uint8 output means less than half its step (1/256)
const TEMPERATURE = 0.707;  // views.py's, fitted on the training's validation set
export const COUNT = 1 + SHIFTS.length + TURNS.length;

const at = (pixels, x, y) => (x < 0 || y < 0 || x >= SIDE || y >= SIDE ? 0 : pixels[y * SIDE + x]);
const floorDiv = (a, b) => Math.floor(a / b);  // exact: every value here is an integer far below 2^53
const mod = (a, b) => ((a % b) + b) % b;

function turned(pixels, cos, sin) {
  const out = new Uint8Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const u = 2 * x - (SIDE - 1), v = 2 * y - (SIDE - 1);  // half-pixels from the centre
      const xs = cos * u + sin * v + (SIDE - 1) * ONE, ys = -sin * u + cos * v + (SIDE - 1) * ONE;
      const x0 = floorDiv(xs, 2 * ONE), fx = mod(xs, 2 * ONE) >> 7;  // the fraction in 1/64ths
      const y0 = floorDiv(ys, 2 * ONE), fy = mod(ys, 2 * ONE) >> 7;
      const sum = (64 - fx) * (64 - fy) * at(pixels, x0, y0) + fx * (64 - fy) * at(pixels, x0 + 1, y0) +
        (64 - fx) * fy * at(pixels, x0, y0 + 1) + fx * fy * at(pixels, x0 + 1, y0 + 1);
      out[y * SIDE + x] = (sum + ONE / 2) >> 12;
    }
  }
  return out;
}

/** The seven views (Uint8Array(784) each) of a 28x28 input (784 values 0-255), the input first. */
export function views(pixels) {
  const out = [Uint8Array.from(pixels)];
  for (const [dx, dy] of SHIFTS) {
    const view = new Uint8Array(SIDE * SIDE);
    for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) view[y * SIDE + x] = at(pixels, x - dx, y - dy);
    out.push(view);
  }
  for (const [cos, sin] of TURNS) out.push(turned(pixels, cos, sin));
  return out;
}

/** One row of probabilities from the views' rows: the mean of their logs (each at least FLOOR) over
 * TEMPERATURE, renormalised. */
export function pool(rows) {
  const log = rows[0].map((_, c) => rows.reduce((s, row) => s + Math.log(Math.min(1, Math.max(FLOOR, row[c]))), 0) /
    rows.length / TEMPERATURE);
  const top = Math.max(...log);
  const p = log.map((l) => Math.exp(l - top));
  const total = p.reduce((s, x) => s + x, 0);
  return p.map((x) => x / total);
}
