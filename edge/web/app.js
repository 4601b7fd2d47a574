// Draw with pointer events (mouse, pen, touch); on lifting, send the drawing as a PNG to
// /api/predict and show the digit, the ten probabilities and the 28x28 input the model saw.
"use strict";
const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const digitEl = document.getElementById("digit");
const confEl = document.getElementById("confidence");
const probsEl = document.getElementById("probs");
const statusEl = document.getElementById("status");
const seen = document.getElementById("seen").getContext("2d");
let drawing = false, last = null, pending = 0;

function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  digitEl.textContent = "–";
  confEl.textContent = "";
  statusEl.textContent = "";
  renderProbs(new Array(10).fill(0));
  seen.clearRect(0, 0, 28, 28);
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
function end(e) {
  if (!drawing) return;
  drawing = false;
  predict();
}
pad.addEventListener("pointerup", end);
pad.addEventListener("pointercancel", end);

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

function showInput(rows) {
  const img = seen.createImageData(28, 28);
  rows.flat().forEach((v, i) => { img.data.set([v, v, v, 255], i * 4); });
  seen.putImageData(img, 0, 0);
}

// body[data-asked] / body[data-answered]: the number of the last request sent and of the one
// shown, so a script (or a test) can tell when the answer matches the whole drawing.
async function predict() {
  const ticket = ++pending;
  document.body.dataset.asked = ticket;
  const blob = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
  try {
    const res = await fetch("/api/predict", { method: "POST", headers: { "Content-Type": "image/png" }, body: blob });
    const body = await res.json();
    if (ticket !== pending) return;  // a newer stroke already asked
    document.body.dataset.answered = ticket;
    if (!res.ok) {
      digitEl.textContent = "–";
      confEl.textContent = "";
      statusEl.textContent = body.error || ("error " + res.status);
      return;
    }
    digitEl.textContent = body.digit === null ? "?" : body.digit;  // null: under the server's --min-confidence
    confEl.textContent = (body.confidence * 100).toFixed(1) + "%";
    statusEl.textContent = (body.digit === null ? "not sure enough to say; " : "") +
      "answered in " + body.latency_ms.toFixed(1) + " ms on the server";
    renderProbs(body.probabilities);
    showInput(body.input);
  } catch (err) {
    statusEl.textContent = "the server did not answer: " + err;
  }
}

document.getElementById("clear").addEventListener("click", clearPad);
clearPad();
