// `digitlite serve`'s page: the drawing goes to the server as a PNG (POST /api/predict), which
// preprocesses it and runs the model; pad.js shows the answer.
import { startPad } from "./pad.js";

async function predict(canvas) {
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  let res, body;
  try {
    res = await fetch("/api/predict?input=1", { method: "POST", headers: { "Content-Type": "image/png" }, body: blob });
    body = await res.json();
  } catch (err) {
    throw new Error("the server did not answer: " + err);
  }
  if (!res.ok) throw new Error(body.error || ("error " + res.status));
  return {
    digit: body.digit,  // null: "not a digit", or under the server's --min-confidence
    reason: body.reason || null,
    confidence: body.confidence,
    probabilities: body.probabilities,
    input: body.input.flat(),
    status: "answered in " + body.latency_ms.toFixed(1) + " ms on the server",
  };
}

startPad(predict);
