// The service's page: record with the shared microphone code and stream to /v1/stream, or upload a
// file to /v1/recognize; finals stay, the partial is replaced as it changes. A token given to the
// page as ?token= goes to the websocket as ?token= and to fetch() as a Bearer header.
// The last transcript downloads as TXT, SRT, VTT (made here from its segments, or from their words
// when the answer has them) and JSON (the /v1/recognize answer; for a recording, the same shape from
// its finals); its audio downloads through /v1/enhance at the slider's dry. Downloads are the
// browser's: nothing is written on the server.
import { Microphone } from "./recorder.js";
import { subtitles } from "./subtitles.js";

const token = new URLSearchParams(location.search).get("token");
const headers = token ? { Authorization: `Bearer ${token}` } : {};
const $ = (id) => document.getElementById(id);
const record = $("record"), dry = $("dry"), transcript = $("transcript"), partial = $("partial");
const LEVEL_FLOOR_DB = -60;
let microphone = null, socket = null, queued = [], ending = false;
let recording = null;  // {chunks, rate, finals} of the recording under way
let result = null;     // {answer, name, audio}: the transcript shown, its name and the audio it came from

function say(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

function clearTranscript() {
  transcript.querySelectorAll(".wb-final").forEach((line) => line.remove());
  partial.textContent = "";
  setResult(null);
}

function setResult(value) {
  result = value;
  document.querySelectorAll(".wb-download").forEach((button) => { button.disabled = !value; });
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

function showAnswer(answer) {
  clearTranscript();
  answer.segments.forEach((segment) => addFinal(segment.text, segment.start_s, segment.end_s));
}

function query(extra = {}) {
  const params = new URLSearchParams({ dry: dry.value, ...extra });
  if (token) params.set("token", token);
  return params;
}

async function errorOf(response) {
  try {
    return (await response.json()).error || `error ${response.status}`;
  } catch {
    return `error ${response.status} ${response.statusText}`;
  }
}

function showLevel() {
  const meter = $("level");
  meter.hidden = !microphone;
  if (!microphone) return;
  const db = microphone.level > 0 ? 20 * Math.log10(microphone.level) : -Infinity;
  const share = Math.max(0, Math.min(1, 1 - db / LEVEL_FLOOR_DB));
  $("level-bar").style.width = `${(100 * share).toFixed(1)}%`;
  $("level-db").textContent = db > LEVEL_FLOOR_DB ? `${db.toFixed(0)} dB` : "−∞ dB";
  requestAnimationFrame(showLevel);
}

async function start() {
  queued = []; ending = false;
  const current = { chunks: [], rate: 0, finals: [] };
  microphone = new Microphone((pcm) => {
    current.chunks.push(pcm);
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(pcm.buffer); else queued.push(pcm.buffer);
  });
  try {
    current.rate = await microphone.start();
  } catch (error) {
    microphone = null;
    say(error.message, true);
    return;
  }
  clearTranscript();
  recording = current;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/v1/stream?${query({ sample_rate: current.rate })}`);
  socket.onopen = () => {
    queued.forEach((buffer) => socket.send(buffer));
    queued = [];
    if (ending) socket.send(JSON.stringify({ event: "end" }));
  };
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.final) {
      addFinal(event.text, event.start_s, event.end_s);
      if (event.text) current.finals.push(event);
      partial.textContent = "";
    } else {
      partial.textContent = event.text;
    }
  };
  socket.onclose = (event) => {
    if (microphone) microphone.stop();
    microphone = null;
    record.textContent = "● Record";
    if (event.code === 1000) setResult(recorded(current));
    say(event.code === 1000 ? "done" : `stream closed (${event.code}): ${event.reason || "connection lost"}`,
        event.code !== 1000);
  };
  record.textContent = "■ Stop";
  say(`recording at ${current.rate} Hz, dry ${dry.value}`);
  showLevel();
}

function stop() {
  microphone.stop();  // sends the last chunk
  microphone = null;
  ending = true;
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ event: "end" }));
  say("finishing…");
}

// A finished recording as /v1/recognize would answer for it, with its audio as a WAV file.
function recorded({ chunks, rate, finals }) {
  const samples = chunks.reduce((count, chunk) => count + chunk.length, 0);
  const segments = finals.map(({ final, ...segment }) => segment);
  const answer = { text: segments.map((segment) => segment.text).join(" "), segments, duration_s: samples / rate };
  return { answer, name: "recording", audio: wav(chunks, rate) };
}

// 16-bit mono PCM WAV of Int16Array chunks.
function wav(chunks, rate) {
  const bytes = 2 * chunks.reduce((count, chunk) => count + chunk.length, 0);
  const header = new DataView(new ArrayBuffer(44));
  const ascii = (offset, text) => [...text].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
  ascii(0, "RIFF"); header.setUint32(4, 36 + bytes, true); ascii(8, "WAVE");
  ascii(12, "fmt "); header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
  header.setUint32(24, rate, true); header.setUint32(28, 2 * rate, true); header.setUint16(32, 2, true);
  header.setUint16(34, 16, true); ascii(36, "data"); header.setUint32(40, bytes, true);
  return new Blob([header, ...chunks], { type: "audio/wav" });
}

async function upload() {
  const file = $("file").files[0];
  if (!file) { say("choose an audio file first", true); return; }
  say(`transcribing ${file.name}…`);
  try {
    const response = await fetch(`/v1/recognize?${query({ format: "json" })}`, { method: "POST", body: file, headers });
    if (!response.ok) {
      say(`${file.name} was not transcribed: ${await errorOf(response)}`, true);
      return;  // the transcript shown stays
    }
    const answer = await response.json();
    showAnswer(answer);
    setResult({ answer, name: file.name.replace(/\.[^.]*$/, "") || "transcript", audio: file });
    say(`${file.name}: ${answer.duration_s.toFixed(1)} s, dry ${dry.value}`);
  } catch (error) {
    say(`upload failed: ${error.message}`, true);
  }
}

function save(name, blob) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

async function download(format) {
  const { answer, name, audio } = result;
  if (format === "wav") {
    const at = Number(dry.value).toFixed(2);
    say(`enhancing ${name} at dry ${at}…`);
    try {
      const response = await fetch(`/v1/enhance?${query()}`, { method: "POST", body: audio, headers });
      if (!response.ok) { say(`no enhanced audio: ${await errorOf(response)}`, true); return; }
      save(`${name}-dry${at}.wav`, await response.blob());
      say(`${name}-dry${at}.wav: 16 kHz mono, dry ${at}`);
    } catch (error) {
      say(`no enhanced audio: ${error.message}`, true);
    }
    return;
  }
  const texts = {
    txt: () => answer.segments.map((segment) => segment.text).join("\n") + "\n",
    srt: () => subtitles(answer.segments, "srt"),
    vtt: () => subtitles(answer.segments, "vtt"),
    json: () => JSON.stringify(answer, null, 2),
  };
  const types = { txt: "text/plain", srt: "application/x-subrip", vtt: "text/vtt", json: "application/json" };
  save(`${name}.${format}`, new Blob([texts[format]()], { type: `${types[format]};charset=utf-8` }));
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
document.querySelectorAll(".wb-download").forEach((button) => {
  button.addEventListener("click", () => download(button.dataset.format));
});
showModels();
