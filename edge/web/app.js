// `digitlite serve`'s page: the drawing goes to the server as a PNG (POST /api/predict), which
// preprocesses it and runs the model; pad.js shows the answer.  A server started with --collect DIR
// also gets a "wrong? it was ..." control: the drawing is saved under the digit the person picks
// (POST /api/collect), and "right" keeps it under the digit read.
import { setStatus, startPad } from "./pad.js";

const pad = document.getElementById("pad");
let lastAnswer = null;

async function pngOf(canvas) {
  return await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

async function post(url, blob) {
  let res, body;
  try {
    res = await fetch(url, { method: "POST", headers: { "Content-Type": "image/png" }, body: blob });
    body = await res.json();
  } catch (err) {
    throw new Error("the server did not answer: " + err);
  }
  if (!res.ok) throw new Error(body.error || ("error " + res.status));
  return body;
}

async function predict(canvas) {
  // collect=0: an answer while the digit is being drawn is no sample; the buttons below save one
  const body = await post("/api/predict?input=1&collect=0", await pngOf(canvas));
  lastAnswer = body;
  showCollect(true);
  return {
    digit: body.digit,  // null: "not a digit", or under the server's --min-confidence
    reason: body.reason || null,
    confidence: body.confidence,
    probabilities: body.probabilities,
    input: body.input.flat(),
    status: "answered in " + body.latency_ms.toFixed(1) + " ms on the server",
  };
}

function showCollect(visible) {
  const box = document.getElementById("collect");
  if (box) box.hidden = !visible;
}

async function save(label) {
  try {
    const body = await post("/api/collect?label=" + encodeURIComponent(label), await pngOf(pad));
    setStatus("saved as " + (label === "not_a_digit" ? "not a digit" : label) + " (" + body.saved + ")");
    document.body.dataset.saved = body.saved;
  } catch (err) {
    setStatus("not saved: " + (err instanceof Error ? err.message : String(err)));
  }
}

function addCollect() {
  const box = document.createElement("div");
  box.id = "collect";
  box.className = "row collect";
  box.hidden = true;
  const right = document.createElement("button");
  right.type = "button";
  right.id = "right";
  right.textContent = "right: keep it";
  right.addEventListener("click", () => {
    if (lastAnswer && lastAnswer.digit !== null) save(String(lastAnswer.digit));
    else setStatus("no digit was read: pick what it is");
  });
  const label = document.createElement("label");
  label.textContent = "wrong? it was ";
  const pick = document.createElement("select");
  pick.id = "wrong";
  pick.append(new Option("…", ""));
  for (let d = 0; d <= 9; d++) pick.append(new Option(String(d), String(d)));
  pick.append(new Option("not a digit", "not_a_digit"));
  pick.addEventListener("change", () => {
    if (pick.value) save(pick.value);
    pick.value = "";
  });
  label.append(pick);
  box.append(right, label);
  document.querySelector(".row").after(box);
  document.getElementById("clear").addEventListener("click", () => showCollect(false));
}

fetch("/api/health").then((r) => r.json()).then((health) => {
  if (health.collect) addCollect();
}).catch(() => {});

startPad(predict);
