// `digitlite export --target web`'s page: the drawing is read here, in the browser. preprocess.js
// makes the 28x28 input, LiteRT.js (WebAssembly, on the CPU) runs the int8 .tflite model that
// digitlite ships for the Pi; nothing is sent anywhere. pad.js shows the answer.
import { loadLiteRt, loadAndCompile, Tensor } from "@litertjs/core";
import { startPad, setStatus } from "./pad.js";
import { toInput } from "./preprocess.js";
import { views, pool } from "./views.js";

const config = JSON.parse(document.getElementById("config").textContent);
const TIMED_CALLS = 200;  // performance.now() is coarse (0.1 ms) without cross-origin isolation: time many calls

let model = null, sample = null;

/** Probabilities (10) of a 28x28 input (784 values 0-255): one model call. */
async function probabilities(pixels) {
  const { input, output } = config;
  let data;
  if (input.dtype === "float32") {
    data = Float32Array.from(pixels);
  } else if (input.scale === 1 && input.zero_point === 0) {  // raw pixels: digitlite's models
    data = Uint8Array.from(pixels);
  } else {
    data = new Uint8Array(pixels.length);
    for (let i = 0; i < pixels.length; i++) {
      data[i] = Math.min(255, Math.max(0, Math.round(pixels[i] / input.scale + input.zero_point)));
    }
  }
  const tensor = new Tensor(data, input.shape);
  try {
    const results = await model.run(tensor);
    const raw = results[0].toTypedArray();
    results.forEach((t) => t.delete());
    return Array.from(raw, (q) => (output.dtype === "float32" ? q : (q - output.zero_point) * output.scale));
  } finally {
    tensor.delete();
  }
}

/** The pooled probabilities of a 28x28 input read in its seven views (views.js), as Python reads a digit. */
async function read(pixels) {
  const rows = [];
  for (const view of views(pixels)) rows.push(await probabilities(view));
  return pool(rows);
}

/** Mean milliseconds of one model call over `n` calls on one input. */
async function timeCalls(pixels, n = TIMED_CALLS) {
  await probabilities(pixels);
  const started = performance.now();
  for (let i = 0; i < n; i++) await probabilities(pixels);
  return (performance.now() - started) / n;
}

async function predict(canvas) {
  if (!model) throw new Error("the model is still loading");
  const started = performance.now();
  const image = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const input = toInput(image, sample);
  const probs = await read(input);
  const ms = performance.now() - started;
  // Ten digits, and an eleventh output "not a digit" for a model that has one (edge/runtime/reading.py's rule).
  const digits = probs.slice(0, 10), notDigit = probs.length > 10 ? probs[10] : 0;
  const best = digits.indexOf(Math.max(...digits));
  const reason = notDigit > digits[best] ? "not a digit" : digits[best] < config.min_confidence ? "unsure" : null;
  return {
    digit: reason === null ? best : null,
    reason,
    confidence: reason === "not a digit" ? notDigit : digits[best],
    probabilities: digits,
    input,
    status: `read in this browser in ${ms.toFixed(1)} ms by ${config.runtime} (WebAssembly, CPU); ` +
      `seven views, one model call each: ${window.digitlite.callMs.toFixed(3)} ms`,
  };
}

async function load() {
  const started = performance.now();
  setStatus(`loading ${config.runtime} and ${config.model}…`);
  const bits = await fetch(config.sample);
  if (!bits.ok) throw new Error(`${config.sample}: ${bits.status} ${bits.statusText}`);
  sample = new Uint8Array(await bits.arrayBuffer());
  // LiteRT's C++ code logs its INFO (and NPU/GPU WARNING) lines to stderr, which Emscripten prints with
  // console.error: they are no errors. The Emscripten module reads a global Module's printErr when it
  // starts (@litertjs/wasm-utils passes self.Module to the factory, then clears it).
  self.Module = { printErr: (line) => (/^INFO: /.test(line) ? console.debug : /^WARNING: /.test(line) ?
    console.warn : console.error)(line) };
  await loadLiteRt(new URL("litert/wasm/", document.baseURI).href);
  model = await loadAndCompile(new URL(config.model, document.baseURI).href, { accelerator: "wasm" });
  const loadedMs = performance.now() - started;
  const callMs = await timeCalls(new Uint8Array(784));
  // for scripts, tests and benchmarks: the loaded model and the page's own steps
  // readyAt: milliseconds from the page's navigation to here (performance.now()'s origin)
  window.digitlite = {
    readyAt: performance.now(), loadedMs, callMs, config, probabilities, read, views, timeCalls,
    toInput: (image) => toInput(image, sample),
  };
  document.body.dataset.ready = "yes";
  setStatus(`model loaded in ${loadedMs.toFixed(0)} ms; it runs in this browser (${config.runtime}, ` +
    `WebAssembly on the CPU): ${callMs.toFixed(3)} ms a call, nothing is sent anywhere`);
}

/** Register sw.js and hand it what this page loaded, so that it opens and reads offline from now on. */
async function keepOffline() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) {
    return "no: a service worker needs https (or localhost)";
  }
  await navigator.serviceWorker.register("./sw.js");
  const worker = (await navigator.serviceWorker.ready).active;
  const page = location.href.split("#")[0];
  const urls = [page, ...performance.getEntriesByType("resource").map((e) => e.name)];
  const answer = await new Promise((resolve) => {
    navigator.serviceWorker.addEventListener("message", (e) => resolve(e.data), { once: true });
    worker.postMessage({ keep: urls });
  });
  return answer.error ? `no: ${answer.error}` : "yes";
}

startPad(predict);
load().then(async () => {
  document.body.dataset.offline = await keepOffline().catch((err) => `no: ${err}`);
}, (err) => {
  document.body.dataset.ready = "failed";
  setStatus(`could not load the model: ${err && err.message ? err.message : err}`);
});
