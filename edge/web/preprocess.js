// The draw-a-digit pad's drawing -> the model's 28x28 input, in the browser.
//
// A port of edge/vision/preprocess.py's path for one digit (`preprocess_gray(..., one_digit=True)`, what
// `digitlite serve` does with the page's PNG), for what a pad can hold: dark ink on white, no page
// lines, no camera frame. Same steps and constants: the paper under the ink (a grayscale closing),
// ink strength (its floor from the paper's noise; the paper estimated again, wider, under a marker's
// broad stroke), Otsu's threshold, the fainter ink joined to the ink (hysteresis), 8-connected pieces without specks, frames drawn round the digit
// and slivers, several digits side by side refused, the digit's pieces gathered, a mark too small to
// read refused, its stroke cores to white, strokes thickened to MNIST's width, a Lanczos-3 fit into
// 20x20, centred by mass in 28x28.
// Otsu's threshold is taken over the same fixed pseudo-random quarter of the pixels as Python's
// (`lines.samples`, which `digitlite export` writes for the pad's size as one bit a pixel), or over
// every pixel for other sizes. Arithmetic is float64 (Python: mostly float32), so an input may
// differ by a gray level here and there: tests/test_web_export.py measures it on a set of drawings.

const BOX = 20, SIZE = 28, TARGET_STROKE = 2.2, MIN_LEVELS = 24, MIN_INK_CONTRAST = 0.12;
const MIN_FILL = 0.05, MAX_WIDTH = 2.5, APART = [0.6, 0.1], BORDER_DIGIT = 0.25, MIN_LENGTH = 1.0;
const MIN_FAINT = 0.03, FAINT_SIGMAS = 8, THICK_STROKE = 3, MIN_READABLE = 10, MIN_STILL_DIGIT = 0.04;
const HYSTERESIS = 0.7, GROW_REACH = 1.5;
const LUMA = [0.299, 0.587, 0.114];
const NO_DIGIT = "no digit found: draw one";  // the server's words (edge/apps/serve.py)

export class NoDigit extends Error {}

// Python's round() and numpy's rint: halves to even.
function roundEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A float image: width, height and row-major values. */
class Img {
  constructor(w, h, data) { this.w = w; this.h = h; this.data = data || new Float64Array(w * h); }
  at(x, y) { return this.data[y * this.w + x]; }
}

function padEdge(a, n) {
  const out = new Img(a.w + 2 * n, a.h + 2 * n);
  for (let y = 0; y < out.h; y++) {
    const src = Math.min(Math.max(y - n, 0), a.h - 1) * a.w, dst = y * out.w;
    out.data.fill(a.data[src], dst, dst + n);
    out.data.set(a.data.subarray(src, src + a.w), dst + n);
    out.data.fill(a.data[src + a.w - 1], dst + n + a.w, dst + out.w);
  }
  return out;
}

function padZero(a, n) {
  const out = new Img(a.w + 2 * n, a.h + 2 * n);
  for (let y = 0; y < a.h; y++) out.data.set(a.data.subarray(y * a.w, (y + 1) * a.w), (y + n) * out.w + n);
  return out;
}

// Max (or min) over a size x size window, edges replicated (imageops.max_filter / min_filter):
// along rows, then along columns, each line copied with its ends repeated.
function rankFilter(a, size, useMax) {
  const r = size >> 1, tmp = new Img(a.w, a.h), out = new Img(a.w, a.h);
  const line = new Float64Array(Math.max(a.w, a.h) + 2 * r);
  const pass = (src, dst, count, length, at) => {
    for (let i = 0; i < count; i++) {
      for (let k = -r; k < length + r; k++) line[k + r] = src.data[at(i, Math.min(Math.max(k, 0), length - 1))];
      for (let k = 0; k < length; k++) {
        let v = line[k];
        for (let j = 1; j < size; j++) {
          const u = line[k + j];
          if (useMax ? u > v : u < v) v = u;
        }
        dst.data[at(i, k)] = v;
      }
    }
  };
  pass(a, tmp, a.h, a.w, (y, x) => y * a.w + x);
  pass(tmp, out, a.w, a.h, (x, y) => y * a.w + x);
  return out;
}

function box3(a) {
  const p = padEdge(a, 1), out = new Img(a.w, a.h), W = p.w;
  for (let y = 0; y < a.h; y++) {
    for (let x = 0; x < a.w; x++) {
      const i = y * W + x;
      out.data[y * a.w + x] = (p.data[i] + p.data[i + 1] + p.data[i + 2] + p.data[i + W] + p.data[i + W + 1] +
        p.data[i + W + 2] + p.data[i + 2 * W] + p.data[i + 2 * W + 1] + p.data[i + 2 * W + 2]) / 9;
    }
  }
  return out;
}

function blockMean(a, step) {
  const w = Math.floor(a.w / step), h = Math.floor(a.h / step), out = new Img(w, h);
  for (let by = 0; by < h; by++) {
    for (let bx = 0; bx < w; bx++) {
      let s = 0;
      for (let y = by * step; y < (by + 1) * step; y++) {
        for (let x = bx * step; x < (bx + 1) * step; x++) s += a.data[y * a.w + x];
      }
      out.data[by * w + bx] = s / (step * step);
    }
  }
  return out;
}

// Weights (nOut x nIn) of linear interpolation, pixel centres aligned (imageops._linear_matrix).
function linearMatrix(nIn, nOut) {
  const m = Array.from({ length: nOut }, () => new Float64Array(nIn));
  for (let o = 0; o < nOut; o++) {
    const x = Math.min(Math.max((o + 0.5) * (nIn / nOut) - 0.5, 0), nIn - 1);
    const i0 = Math.floor(x), i1 = Math.min(i0 + 1, nIn - 1);
    m[o][i0] += 1 - (x - i0);
    m[o][i1] += x - i0;
  }
  return m;
}

// Resampling weights of a Lanczos-3 filter as Pillow's LANCZOS computes them (imageops._lanczos_matrix).
function lanczosMatrix(nIn, nOut) {
  const sinc = (v) => (v === 0 ? 1 : Math.sin(Math.PI * v) / (Math.PI * v));
  const scale = nIn / nOut, stretch = Math.max(scale, 1);
  return Array.from({ length: nOut }, (_, o) => {
    const row = new Float64Array(nIn), centre = (o + 0.5) * scale;
    let total = 0;
    for (let i = 0; i < nIn; i++) {
      const d = Math.abs((i - centre + 0.5) / stretch);
      row[i] = d < 3 ? sinc(d) * sinc(d / 3) : 0;
      total += row[i];
    }
    if (total !== 0) for (let i = 0; i < nIn; i++) row[i] /= total;
    return row;
  });
}

// Where each row of a weight matrix is not zero: [first, last + 1).
function support(matrix) {
  return matrix.map((row) => {
    let lo = 0, hi = row.length;
    while (lo < hi && row[lo] === 0) lo++;
    while (hi > lo && row[hi - 1] === 0) hi--;
    return [lo, hi];
  });
}

// rows (hOut x a.h) @ a @ cols^T (wOut x a.w), over each row's non-zero weights only
function resample(a, rows, cols) {
  const mid = new Img(a.w, rows.length), out = new Img(cols.length, rows.length);
  const rowSpan = support(rows), colSpan = support(cols);
  for (let o = 0; o < rows.length; o++) {
    const [lo, hi] = rowSpan[o], weights = rows[o], base = o * a.w;
    for (let y = lo; y < hi; y++) {
      const wgt = weights[y], src = y * a.w;
      for (let x = 0; x < a.w; x++) mid.data[base + x] += wgt * a.data[src + x];
    }
  }
  for (let y = 0; y < mid.h; y++) {
    const src = y * a.w;
    for (let o = 0; o < cols.length; o++) {
      const [lo, hi] = colSpan[o], weights = cols[o];
      let s = 0;
      for (let x = lo; x < hi; x++) s += weights[x] * mid.data[src + x];
      out.data[y * out.w + o] = s;
    }
  }
  return out;
}

// The paper under the ink: a grayscale closing over `size` pixels at 1/step resolution (preprocess.paper_estimate).
function paperEstimate(a, size) {
  let step = Math.max(1, Math.floor(size / 8));
  if (step === 1 && Math.min(a.w, a.h) >= 64) step = 2;
  const reduced = step > 1 && Math.min(a.w, a.h) >= 2 * step;
  const small = reduced ? blockMean(a, step) : a;
  const window = reduced ? (Math.floor(size / step) | 1) : size;
  const padded = padEdge(small, window);
  const closedFull = rankFilter(rankFilter(padded, window, true), window, false);
  let closed = new Img(small.w, small.h);
  for (let y = 0; y < small.h; y++) {
    for (let x = 0; x < small.w; x++) closed.data[y * small.w + x] = closedFull.at(x + window, y + window);
  }
  closed = box3(closed);
  return closed.w === a.w && closed.h === a.h ? closed : resample(closed, linearMatrix(closed.h, a.h), linearMatrix(closed.w, a.w));
}

function otsuThreshold(values, sample, bins = 128) {
  const hist = new Float64Array(bins);
  for (let p = 0; p < values.length; p++) {
    if (sample && !(sample[p >> 3] & (128 >> (p & 7)))) continue;
    hist[Math.min(Math.floor(values[p] * (bins - 0.001)), bins - 1)]++;
  }
  let total = 0, mass = 0;
  for (let i = 0; i < bins; i++) { total += hist[i]; mass += hist[i] * (i + 0.5) / bins; }
  let best = 0, bestScore = -Infinity, w0 = 0, m0 = 0;
  for (let i = 0; i < bins; i++) {
    w0 += hist[i];
    m0 += hist[i] * (i + 0.5) / bins;
    const spread = m0 * total - mass * w0;
    const score = spread * spread / Math.max(w0 * (total - w0), 1e-12);
    if (score > bestScore) { bestScore = score; best = i; }
  }
  return (best + 0.5) / bins;
}

// 8-connected components: labels (0 = none) and [x0, y0, x1, y1, area] per label (label k at k - 1).
function components(mask, w, h) {
  const labels = new Int32Array(w * h), stats = [], stack = [];
  for (let start = 0; start < w * h; start++) {
    if (!mask[start] || labels[start]) continue;
    const id = stats.length + 1, s = [w, h, 0, 0, 0];
    labels[start] = id;
    stack.push(start);
    while (stack.length) {
      const p = stack.pop(), x = p % w, y = (p - x) / w;
      s[0] = Math.min(s[0], x); s[1] = Math.min(s[1], y); s[2] = Math.max(s[2], x + 1); s[3] = Math.max(s[3], y + 1); s[4]++;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx, ny = y + dy, q = ny * w + nx;
          if (nx >= 0 && ny >= 0 && nx < w && ny < h && mask[q] && !labels[q]) { labels[q] = id; stack.push(q); }
        }
      }
    }
    stats.push(s);
  }
  return { labels, stats };
}

const sliver = ([x0, y0, x1, y1], w, h) => {
  const bw = x1 - x0, bh = y1 - y0;
  if (bh <= Math.max(2, 0.02 * h) && bw >= 6 * bh) return true;
  return bw <= Math.max(2, 0.02 * w) && bh >= 6 * bw && (y0 === 0 || y1 === h);
};
const encloses = (o, i, m = 2) => o[0] + m <= i[0] && o[1] + m <= i[1] && i[2] + m <= o[2] && i[3] + m <= o[3];
const freeStanding = ([x0, y0, x1, y1], w, h) => x0 > 0 && y0 > 0 && x1 < w && y1 < h;
const boxCompare = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || a[3] - b[3];

// Ink of piece `label` (box `outer`) above, below, left and right of the middle of the sizeable box
// `inner`: a frame drawn round a digit, not a digit round a piece of itself (preprocess._surrounds).
function surrounds(labels, w, label, outer, inner) {
  if (!encloses(outer, inner)) return false;
  const [ox0, oy0, ox1, oy1] = outer, [ix0, iy0, ix1, iy1] = inner;
  if (iy1 - iy0 < 0.3 * (oy1 - oy0) && ix1 - ix0 < 0.3 * (ox1 - ox0)) return false;
  const mx0 = ix0 + Math.floor((ix1 - ix0) / 5), mx1 = ix1 - Math.floor((ix1 - ix0) / 5) + 1;
  const my0 = iy0 + Math.floor((iy1 - iy0) / 5), my1 = iy1 - Math.floor((iy1 - iy0) / 5) + 1;
  const any = (x0, x1, y0, y1) => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (labels[y * w + x] === label) return true;
    return false;
  };
  return any(mx0, mx1, oy0, iy0) && any(mx0, mx1, iy1, oy1) && any(ox0, ix0, my0, my1) && any(ix1, ox1, my0, my1);
}

// The mask without specks, frames, border pieces and slivers, and the kept pieces {area, box}, largest first
// (preprocess._candidates for a still image).
function candidates(mask, w, h) {
  const { labels, stats } = components(mask, w, h);
  if (!stats.length) return { mask, kept: [] };
  const comps = stats.map((s) => ({ area: s[4], box: s.slice(0, 4) }));
  let ids = comps.map((_, i) => i);
  const biggest = Math.max(...comps.map((c) => c.area));
  ids = ids.filter((i) => comps[i].area >= Math.max(0.08 * biggest, 4) && !sliver(comps[i].box, w, h));
  const unframed = ids.filter((i) => !ids.some((j) => j !== i && surrounds(labels, w, i + 1, comps[i].box, comps[j].box)));
  if (unframed.length) ids = unframed;
  const inside = ids.filter((i) => freeStanding(comps[i].box, w, h));
  if (inside.length && inside.length < ids.length) {
    const biggestInside = Math.max(...inside.map((i) => comps[i].area));
    const tall = Math.max(...inside.map((i) => comps[i].box[3] - comps[i].box[1]));
    ids = ids.filter((i) => {
      if (comps[i].area < 0.08 * biggestInside) return false;
      if (inside.includes(i)) return true;
      const height = comps[i].box[3] - comps[i].box[1];
      return 0.6 * tall <= height && height <= 2.2 * tall;  // a digit cut by the edge, as tall as the others
    });
  } else if (!inside.length) {
    const side = BORDER_DIGIT * Math.min(h, w);
    ids = ids.filter((i) => Math.max(comps[i].box[2] - comps[i].box[0], comps[i].box[3] - comps[i].box[1]) >= side);
  }
  const chosen = new Uint8Array(comps.length + 1);
  for (const i of ids) chosen[i + 1] = 1;
  const out = new Uint8Array(w * h);
  for (let p = 0; p < w * h; p++) out[p] = chosen[labels[p]];
  const kept = ids.map((i) => comps[i]).sort((a, b) => b.area - a.area || boxCompare(a.box, b.box));
  return { mask: out, kept };
}

// Not a dash, not scattered dashes; thin strokes count by their length (preprocess._digit_like, still).
function digitLike(mask, w, h, [x0, y0, x1, y1]) {
  if (x1 - x0 > MAX_WIDTH * (y1 - y0)) return false;
  const part = new Uint8Array((x1 - x0) * (y1 - y0));
  let count = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) { part[(y - y0) * (x1 - x0) + x - x0] = mask[y * w + x]; count += mask[y * w + x]; }
  }
  if (count >= MIN_FILL * (x1 - x0) * (y1 - y0)) return true;
  return count / Math.max(strokeWidth(part, x1 - x0, y1 - y0), 1) >= MIN_LENGTH * Math.max(x1 - x0, y1 - y0);
}

function columnGroups(kept) {
  const tall = Math.max(...kept.map((c) => c.box[3] - c.box[1]));
  const groups = [];
  const byLeft = kept.map((c, i) => [c, i]).sort((a, b) => a[0].box[0] - b[0].box[0] || a[1] - b[1]);
  for (const [{ box: [x0, y0, x1, y1] }] of byLeft) {
    const g = groups[groups.length - 1];
    if (g && Math.min(x1, g[2]) - Math.max(x0, g[0]) >= 0.5 * Math.min(x1 - x0, g[2] - g[0])) {
      groups[groups.length - 1] = [Math.min(x0, g[0]), Math.min(y0, g[1]), Math.max(x1, g[2]), Math.max(y1, g[3])];
    } else {
      groups.push([x0, y0, x1, y1]);
    }
  }
  return groups.filter((g) => g[3] - g[1] >= 0.35 * tall);
}

function digitsApart(mask, w, h, kept) {
  let groups = columnGroups(kept).filter((g) => digitLike(mask, w, h, g));
  if (groups.length < 2) return groups.length;
  const tall = Math.max(...groups.map((g) => g[3] - g[1]));
  groups = groups.filter((g) => g[3] - g[1] >= APART[0] * tall);
  let apart = 1;
  for (let i = 1; i < groups.length; i++) apart += groups[i][0] - groups[i - 1][2] >= APART[1] * tall ? 1 : 0;
  return apart;
}

// The largest piece and those that belong with it; one above or below sharing its columns joins from
// further off (preprocess._digit_group, still).
function digitGroup(kept) {
  let [x0, y0, x1, y1] = kept[0].box;
  const rest = kept.slice(1).map((c) => c.box);
  let joined = true;
  while (joined && rest.length) {
    joined = false;
    const size = Math.max(x1 - x0, y1 - y0);
    for (const box of [...rest]) {
      const [a0, b0, a1, b1] = box;
      const reachY = Math.min(a1, x1) - Math.max(a0, x0) >= 0.5 * (a1 - a0) ? 0.6 * size : 0.25 * size;
      if (Math.max(a0 - x1, x0 - a1, 0) <= 0.25 * size && Math.max(b0 - y1, y0 - b1, 0) <= reachY) {
        [x0, y0, x1, y1] = [Math.min(x0, a0), Math.min(y0, b0), Math.max(x1, a1), Math.max(y1, b1)];
        rest.splice(rest.indexOf(box), 1);
        joined = true;
      }
    }
  }
  return [x0, y0, x1, y1];
}

function strokeWidth(mask, w, h) {
  let area = 0, edges = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = mask[y * w + x];
      area += v;
      if (x + 1 < w && v !== mask[y * w + x + 1]) edges++;
      if (y + 1 < h && v !== mask[(y + 1) * w + x]) edges++;
      if (v && (x === 0 || x === w - 1)) edges++;
      if (v && (y === 0 || y === h - 1)) edges++;
    }
  }
  return area ? 2 * area / Math.max(edges, 1) : 0;
}

// Crop the masked ink to the mask's box, fit it in 20x20, centre by mass in 28x28 (preprocess.to_mnist).
function toMnist(strength, mask, w, [bx0, by0, bx1, by1]) {
  let x0 = bx1, y0 = by1, x1 = bx0, y1 = by0;
  for (let y = by0; y < by1; y++) {
    for (let x = bx0; x < bx1; x++) {
      if (mask[y * w + x]) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + 1); y1 = Math.max(y1, y + 1); }
    }
  }
  const cw = x1 - x0, ch = y1 - y0, cropMask = new Uint8Array(cw * ch);
  let count = 0;
  let crop = new Img(cw, ch);
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      const p = (y + y0) * w + x + x0;
      if (mask[p]) { cropMask[y * cw + x] = 1; crop.data[y * cw + x] = strength.data[p]; count++; }
    }
  }
  const values = new Float64Array(count);
  for (let i = 0, k = 0; i < cropMask.length; i++) if (cropMask[i]) values[k++] = crop.data[i];
  values.sort();  // a Float64Array: sorted as numbers
  const k = Math.min(values.length - 1, Math.floor(0.9 * (values.length - 1) + 0.5));
  const core = Math.max(values[k], 1e-6);
  for (let i = 0; i < crop.data.length; i++) crop.data[i] = Math.min(Math.max(crop.data[i] / core, 0), 1);
  let scale = BOX / Math.max(ch, cw);
  const grow = roundEven((TARGET_STROKE / scale - strokeWidth(cropMask, cw, ch)) / 2);
  if (grow > 0) {
    const size = 2 * Math.min(grow, 15) + 1;
    crop = box3(rankFilter(padZero(crop, size), size, true));
    scale = BOX / Math.max(crop.h, crop.w);
  }
  const newW = Math.max(1, roundEven(crop.w * scale)), newH = Math.max(1, roundEven(crop.h * scale));
  for (let i = 0; i < crop.data.length; i++) crop.data[i] *= 255;
  const small = resample(crop, lanczosMatrix(crop.h, newH), lanczosMatrix(crop.w, newW));
  let total = 0, my = 0, mx = 0;
  for (let y = 0; y < newH; y++) {
    for (let x = 0; x < newW; x++) {
      const v = Math.min(Math.max(small.data[y * newW + x], 0), 255);
      small.data[y * newW + x] = v;
      total += v; my += v * y; mx += v * x;
    }
  }
  let top = Math.floor((SIZE - newH) / 2), left = Math.floor((SIZE - newW) / 2);
  if (total > 0) {
    const cy = top + my / total, cx = left + mx / total;
    top = Math.min(Math.max(top + roundEven(SIZE / 2 - cy), 0), SIZE - newH);
    left = Math.min(Math.max(left + roundEven(SIZE / 2 - cx), 0), SIZE - newW);
  }
  const out = new Uint8Array(SIZE * SIZE);
  for (let y = 0; y < newH; y++) {
    for (let x = 0; x < newW; x++) out[(y + top) * SIZE + x + left] = roundEven(small.data[y * newW + x]);
  }
  return out;
}

// Ink strength 0..1 of dark ink on a light pad: the paper under it (a closing over `window` of the
// smaller side) divided out (preprocess.ink_map).
function inkStrength(gray, window) {
  const { w, h } = gray;
  const paper = paperEstimate(gray, Math.max(7, Math.floor(Math.min(w, h) * window)) | 1);
  const strength = new Img(w, h);
  for (let p = 0; p < w * h; p++) {
    strength.data[p] = Math.min(Math.max(1 - gray.data[p] / Math.max(paper.data[p], 1), 0), 1);
  }
  return strength;
}

// The noise floor of ink: FAINT_SIGMAS robust sigmas (from the half below the median) above the
// paper, at least MIN_FAINT, over the sampled pixels (preprocess.ink_floor).
function inkFloor(values, sample) {
  let picked = [];
  for (let p = 0; p < values.length; p++) if (!sample || sample[p >> 3] & (128 >> (p & 7))) picked.push(values[p]);
  if (picked.length >= 4096) picked = picked.filter((_, i) => i % 4 === 0);
  const sorted = Float64Array.from(picked).sort();
  const k = sorted.length >> 1, median = sorted[k];
  const spread = k ? median - sorted[k - 1 - (k >> 1)] : 0;
  return Math.max(MIN_FAINT, median + FAINT_SIGMAS * 1.4826 * spread);
}

// `mask` grown into the fainter ink joined to it (strength over `low`), where the piece stays within
// GROW_REACH of its size: a fading pen's stroke, a blurred stroke's fainter side (preprocess.py's
// _grow_faint; a pad has no page lines to keep it off).
function growFaint(strength, mask, low, w, h) {
  let top = h, bottom = -1, left = w, right = -1;
  for (let p = 0; p < w * h; p++) {
    if (!mask[p]) continue;
    const x = p % w, y = (p - x) / w;
    top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
  }
  if (bottom < 0) return mask;
  const my = Math.floor((GROW_REACH - 1) * (bottom + 1 - top)) + 3, mx = Math.floor((GROW_REACH - 1) * (right + 1 - left)) + 3;
  const y0 = Math.max(0, top - my), y1 = Math.min(h, bottom + 1 + my), x0 = Math.max(0, left - mx), x1 = Math.min(w, right + 1 + mx);
  const cw = x1 - x0, ch = y1 - y0, weak = new Uint8Array(cw * ch);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) weak[y * cw + x] = strength.data[(y + y0) * w + x + x0] > low ? 1 : 0;
  const { labels, stats } = components(weak, cw, ch);
  const strong = stats.map(() => [cw, ch, -1, -1]);  // the box of the stronger ink in each weak piece
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      const label = labels[y * cw + x];
      if (!label || !mask[(y + y0) * w + x + x0]) continue;
      const b = strong[label - 1];
      b[0] = Math.min(b[0], x); b[1] = Math.min(b[1], y); b[2] = Math.max(b[2], x); b[3] = Math.max(b[3], y);
    }
  }
  const keep = stats.map(([gx0, gy0, gx1, gy1], k) => {
    const [sx0, sy0, sx1, sy1] = strong[k];
    if (sx1 < 0) return false;
    // faint ink running on out of the part, or off the pad where the stronger ink does not reach its edge
    const cut = (gx0 === 0 && (x0 > 0 || sx0 > 0)) || (gy0 === 0 && (y0 > 0 || sy0 > 0))
      || (gx1 === cw && (x1 < w || sx1 + 1 < cw)) || (gy1 === ch && (y1 < h || sy1 + 1 < ch));
    return !cut && gx1 - gx0 <= GROW_REACH * Math.max(sx1 + 1 - sx0, 1) + 2 && gy1 - gy0 <= GROW_REACH * Math.max(sy1 + 1 - sy0, 1) + 2;
  });
  const out = Uint8Array.from(mask);
  for (let y = 0; y < ch; y++) {
    for (let x = 0; x < cw; x++) {
      const label = labels[y * cw + x];
      if (label && keep[label - 1]) out[(y + y0) * w + x + x0] = 1;
    }
  }
  return out;
}

function threshold(values, t) {
  const out = new Uint8Array(values.length);
  for (let p = 0; p < values.length; p++) out[p] = values[p] > t ? 1 : 0;
  return out;
}

/**
 * The 28x28 model input (784 uint8 values, white digit on black, row by row) of one digit drawn in
 * dark ink on a light pad: an ImageData (or anything with width, height and RGBA `data`).
 * `sample`: the pixels (one bit each, row by row) to take the threshold from; all when absent.
 * Throws NoDigit with the server's message for a blank pad, specks, or several digits.
 */
export function toInput(image, sample = null) {
  const { width: w, height: h, data } = image;
  const gray = new Img(w, h);
  let lo = Infinity, hi = -Infinity;
  for (let p = 0; p < w * h; p++) {
    // alpha flattened onto white, as for a PNG whose ink is dark
    const a = data[4 * p + 3] / 255;
    const v = (LUMA[0] * data[4 * p] + LUMA[1] * data[4 * p + 1] + LUMA[2] * data[4 * p + 2]) * a + 255 * (1 - a);
    gray.data[p] = v;
    lo = Math.min(lo, v); hi = Math.max(hi, v);
  }
  if (hi - lo < MIN_LEVELS) throw new NoDigit(NO_DIGIT);
  if (sample && sample.length * 8 !== w * h) sample = null;  // made for another size
  let strength = inkStrength(gray, 0.2);
  let floor = inkFloor(strength.data, sample);
  let strongest = 0;
  for (const v of strength.data) strongest = Math.max(strongest, v);
  if (strongest < floor) throw new NoDigit(NO_DIGIT);  // nothing stands out from the paper's noise
  floor = Math.min(floor, MIN_INK_CONTRAST);
  let cut = Math.max(otsuThreshold(strength.data, sample), floor);
  let raw = threshold(strength.data, cut);
  // a marker's stroke wider than the paper's window: the paper estimated again over a wider one
  const width = strokeWidth(raw, w, h), window = Math.max(7, Math.floor(Math.min(w, h) * 0.2)) | 1;
  if (THICK_STROKE * width > window) {
    strength = inkStrength(gray, Math.min(1, THICK_STROKE * width / Math.min(w, h)));
    floor = Math.min(inkFloor(strength.data, sample), MIN_INK_CONTRAST);
    cut = Math.max(otsuThreshold(strength.data, sample), floor);
    raw = threshold(strength.data, cut);
  }
  raw = growFaint(strength, raw, Math.max(MIN_FAINT, HYSTERESIS * cut), w, h);
  const { mask, kept } = candidates(raw, w, h);
  if (!kept.length) throw new NoDigit(NO_DIGIT);
  const count = digitsApart(mask, w, h, kept);
  if (count > 1) throw new NoDigit(`${count} digits side by side: draw one digit at a time`);
  const box = digitGroup(kept);
  const side = Math.max(box[2] - box[0], box[3] - box[1]);
  if (side < MIN_READABLE || side < MIN_STILL_DIGIT * Math.min(w, h)) throw new NoDigit(NO_DIGIT);  // too small
  if (!digitLike(mask, w, h, box)) throw new NoDigit(NO_DIGIT);
  return toMnist(strength, mask, w, box);
}
