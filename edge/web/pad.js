// The draw-a-digit page's pad and answer, shared by `digitlite serve` (app.js: the server reads the
// drawing) and `digitlite export --target web` (local.js: the page reads it itself).
// Draw with pointer events (mouse, pen, touch); on lifting, ask `predict(canvas)` and show the digit,
// the ten probabilities and the 28x28 input the model saw.

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });
const digitEl = document.getElementById("digit");
const confEl = document.getElementById("confidence");
const probsEl = document.getElementById("probs");
const statusEl = document.getElementById("status");
const seen = document.getElementById("seen").getContext("2d");

/** Show `text` under the answer (where the model runs, how long it took, or what went wrong). */
export function setStatus(text) {
  statusEl.textContent = text;
}

function clearAnswer() {
  digitEl.textContent = "–";
  confEl.textContent = "";
  renderProbs(new Array(10).fill(0));
  seen.clearRect(0, 0, 28, 28);
}

function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  clearAnswer();
  setStatus("");
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
}

function stroke(a, b) {
  ctx.strokeStyle = "#111";
  ctx.lineWidth = pad.width / 14;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
}

function renderProbs(probs) {
  const best = probs.indexOf(Math.max(...probs));
  probsEl.innerHTML = "";
  probs.forEach((p, d) => {
    const label = document.createElement("span");
    label.textContent = d;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("i");
    fill.style.width = (p * 100).toFixed(1) + "%";
    if (d !== best || p === 0) fill.style.background = "#9bb";
    bar.appendChild(fill);
    const value = document.createElement("span");
    value.textContent = (p * 100).toFixed(1) + "%";
    probsEl.append(label, bar, value);
  });
}

function showInput(pixels) {
  const img = seen.createImageData(28, 28);
  pixels.forEach((v, i) => { img.data.set([v, v, v, 255], i * 4); });
  seen.putImageData(img, 0, 0);
}

/**
 * Wire the pad to `predict(canvas)`, which resolves to {digit (null: not a digit, or not sure enough),
 * reason ("not a digit", "unsure" or null), confidence, probabilities (10), input (784 values, row by
 * row), status} or rejects with an Error whose message
 * is shown (no digit, several digits, no answer).
 * body[data-asked] / body[data-answered]: the number of the last request sent and of the one shown,
 * so a script (or a test) can tell when the answer matches the whole drawing; body[data-took-ms]:
 * from lifting the pen to that answer on the page, in milliseconds (benchmarks/web.py reads it).
 */
export function startPad(predict) {
  let drawing = false, last = null, pending = 0;

  async function ask() {
    const lifted = performance.now();
    const ticket = ++pending;
    document.body.dataset.asked = ticket;
    let answer = null, problem = null;
    try {
      answer = await predict(pad);
    } catch (err) {
      problem = err instanceof Error ? err.message : String(err);
    }
    if (ticket !== pending) return;  // a newer stroke already asked
    if (problem !== null) {
      clearAnswer();
      setStatus(problem);
    } else {
      const notDigit = answer.reason === "not a digit";
      digitEl.textContent = answer.digit === null ? (notDigit ? "✗" : "?") : answer.digit;
      confEl.textContent = (answer.confidence * 100).toFixed(1) + "%";
      setStatus((notDigit ? "not a digit; " : answer.digit === null ? "not sure enough to say; " : "") + answer.status);
      renderProbs(answer.probabilities);
      showInput(answer.input);
    }
    document.body.dataset.tookMs = (performance.now() - lifted).toFixed(3);
    document.body.dataset.answered = ticket;
  }

  pad.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    drawing = true;
    last = point(e);
    stroke(last, last);
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const p = point(e);
    stroke(last, p);
    last = p;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    ask();
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  document.getElementById("clear").addEventListener("click", clearPad);
  clearPad();
}
