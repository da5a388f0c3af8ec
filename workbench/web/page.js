// The service's page: record with the shared microphone code and stream to /v1/stream, or upload a
// file to /v1/recognize; finals stay, the partial is replaced as it changes. A token given to the
// page as ?token= goes to the websocket as ?token= and to fetch() as a Bearer header.
import { Microphone } from "./recorder.js";

const token = new URLSearchParams(location.search).get("token");
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const $ = (id) => document.getElementById(id);
const record = $("record"), dry = $("dry"), transcript = $("transcript"), partial = $("partial");
let microphone = null, socket = null, queued = [], ending = false;

function say(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

function clearTranscript() {
  transcript.querySelectorAll(".wb-final").forEach((line) => line.remove());
  partial.textContent = "";
}

function addFinal(text, start, end) {
  if (!text) return;
  const line = document.createElement("p"), times = document.createElement("small");
  const words = document.createElement("span");
  line.className = "wb-final";
  times.textContent = `${start.toFixed(2)}–${end.toFixed(2)} s`;
  words.className = "wb-final-text";
  words.textContent = text;
  line.append(times, words);
  transcript.insertBefore(line, partial);
}

function query(extra) {
  const params = new URLSearchParams({ dry: dry.value, ...extra });
  if (token) params.set("token", token);
  return params;
}

async function start() {
  clearTranscript();
  queued = []; ending = false;
  microphone = new Microphone((pcm) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(pcm.buffer); else queued.push(pcm.buffer);
  });
  let rate;
  try {
    rate = await microphone.start();
  } catch (error) {
    microphone = null;
    say(error.message, true);
    return;
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/v1/stream?${query({ sample_rate: rate })}`);
  socket.onopen = () => {
    queued.forEach((buffer) => socket.send(buffer));
    queued = [];
    if (ending) socket.send(JSON.stringify({ event: "end" }));
  };
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.final) {
      addFinal(event.text, event.start_s, event.end_s);
      partial.textContent = "";
    } else {
      partial.textContent = event.text;
    }
  };
  socket.onclose = (event) => {
    if (microphone) microphone.stop();
    microphone = null;
    record.textContent = "● Record";
    say(event.code === 1000 ? "done" : `stream closed (${event.code}): ${event.reason || "connection lost"}`,
        event.code !== 1000);
  };
  record.textContent = "■ Stop";
  say(`recording at ${rate} Hz, dry ${dry.value}`);
}

function stop() {
  microphone.stop();  // sends the last chunk
  microphone = null;
  ending = true;
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ event: "end" }));
  say("finishing…");
}

async function upload() {
  const file = $("file").files[0];
  if (!file) { say("choose an audio file first", true); return; }
  clearTranscript();
  say(`transcribing ${file.name}…`);
  try {
    const response = await fetch(`/v1/recognize?${query({ format: "json" })}`, { method: "POST", body: file, headers });
    const answer = await response.json();
    if (!response.ok) { say(answer.error || `error ${response.status}`, true); return; }
    answer.segments.forEach((segment) => addFinal(segment.text, segment.start_s, segment.end_s));
    say(`${file.name}: ${answer.duration_s.toFixed(1)} s, dry ${dry.value}`);
  } catch (error) {
    say(`upload failed: ${error.message}`, true);
  }
}

async function showModels() {
  try {
    const response = await fetch("/v1/models", { headers });
    const models = await response.json();
    if (!response.ok) { $("models").textContent = models.error; return; }
    const denoiser = models.denoiser ? `${models.denoiser.name} (${(models.denoiser.parameters / 1e6).toFixed(1)} M)` : "none";
    $("models").textContent = `ASR ${models.asr.name} (${(models.asr.parameters / 1e6).toFixed(1)} M` +
      `${models.lm ? ", label LM" : ""}) · denoiser ${denoiser}`;
    dry.value = models.dry;
    $("dry-value").textContent = Number(models.dry).toFixed(2);
  } catch (error) {
    $("models").textContent = `models unknown: ${error.message}`;
  }
}

record.addEventListener("click", () => (microphone ? stop() : start()));
dry.addEventListener("input", () => { $("dry-value").textContent = Number(dry.value).toFixed(2); });
$("upload").addEventListener("click", upload);
showModels();
