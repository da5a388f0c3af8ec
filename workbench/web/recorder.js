// Browser microphone -> Int16 PCM chunks, shared by the notebook's record button (anywidget)
// and the service's page. Raw capture: echo cancellation, noise suppression and automatic gain
// are off (Chromium's defaults cut a 0.5-amplitude tone to RMS 0.04). An AudioWorklet taps the
// samples; chunks are 100 ms at 16 kHz, which the browser is asked for, else 250 ms at its own rate.
// `level` is the signal's recent peak (0..1; it falls by PEAK_FALL_DB per second), for a level meter.

const WORKLET = `
class WorkbenchTap extends AudioWorkletProcessor {
  process(inputs) {
    if (inputs[0] && inputs[0][0]) this.port.postMessage(inputs[0][0].slice(0));
    return true;
  }
}
registerProcessor("workbench-tap", WorkbenchTap);
`;
let workletUrl = null;
const PEAK_FALL_DB = 20;

export class Microphone {
  // onChunk(pcm: Int16Array, rate) for each chunk; start() resolves to the rate or throws an Error
  // whose message says why there is no microphone.
  constructor(onChunk) {
    this.onChunk = onChunk;
    this.context = null;
    this.stream = null;
    this.pending = [];
    this.pendingLength = 0;
    this.level = 0;
  }

  get recording() {
    return this.context !== null;
  }

  async start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("this browser offers no microphone here (it needs https or localhost)");
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio: {
        echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 } });
    } catch (error) {
      throw new Error(`no microphone in this browser: ${error.name}: ${error.message}`);
    }
    try {
      const source = this.openContext();
      workletUrl = workletUrl || URL.createObjectURL(new Blob([WORKLET], { type: "application/javascript" }));
      await this.context.audioWorklet.addModule(workletUrl);
      const node = new AudioWorkletNode(this.context, "workbench-tap");
      const rate = this.context.sampleRate, size = Math.round(rate * (rate === 16000 ? 0.1 : 0.25));
      const fall = Math.pow(10, -PEAK_FALL_DB / 20 / rate);  // per sample
      node.port.onmessage = (event) => {
        let peak = 0;
        for (const sample of event.data) peak = Math.max(peak, Math.abs(sample));
        this.level = Math.max(peak, this.level * Math.pow(fall, event.data.length));
        this.pending.push(event.data);
        this.pendingLength += event.data.length;
        this.send(size, rate, false);
      };
      this.pending = []; this.pendingLength = 0;
      source.connect(node);
      node.connect(this.context.destination);  // an unconnected worklet never runs
      return rate;
    } catch (error) {
      this.stop();
      throw new Error(`cannot record in this browser: ${error.name}: ${error.message}`);
    }
  }

  // Let the browser resample to 16 kHz (cheaper than resampling each chunk on the server); a
  // browser that cannot connect a microphone to a context of another rate records at its own.
  openContext() {
    for (const options of [{ sampleRate: 16000 }, {}]) {
      this.context = new AudioContext(options);
      try {
        return this.context.createMediaStreamSource(this.stream);
      } catch (error) {
        this.context.close();
        this.context = null;
        if (!options.sampleRate) throw error;
      }
    }
  }

  send(size, rate, all) {
    while (this.pendingLength >= size || (all && this.pendingLength > 0)) {
      const count = Math.min(size, this.pendingLength);
      const pcm = new Int16Array(count);
      let filled = 0;
      while (filled < count) {
        const head = this.pending[0], take = Math.min(head.length, count - filled);
        for (let i = 0; i < take; i++) pcm[filled + i] = Math.max(-32768, Math.min(32767, Math.round(head[i] * 32768)));
        filled += take;
        if (take === head.length) this.pending.shift(); else this.pending[0] = head.subarray(take);
      }
      this.pendingLength -= count;
      this.onChunk(pcm, rate);
    }
  }

  // Sends what is left, then releases the microphone; true if it was recording.
  stop() {
    const wasRecording = this.context !== null;
    if (this.context) {
      this.send(Infinity, this.context.sampleRate, true);
      this.context.close();
    }
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.context = null; this.stream = null; this.pending = []; this.pendingLength = 0; this.level = 0;
    return wasRecording;
  }
}

// The notebook's record button. Messages to Python: {type: "start", rate}, {type: "chunk", rate}
// with the PCM in the first buffer, {type: "stop"}, {type: "error", message}; Python sends
// {type: "stop"} to end a recording.
function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "jupyter-button widget-button wb-record-browser-button";
  button.style.width = "auto";
  button.style.padding = "0 12px";
  const note = document.createElement("span");
  note.className = "wb-record-browser-note";
  note.style.marginLeft = "8px";
  el.append(button, note);
  const microphone = new Microphone((pcm, rate) => model.send({ type: "chunk", rate }, undefined, [pcm.buffer]));

  const idle = (text) => { button.textContent = "\u25CF Record in browser"; note.textContent = text || ""; };

  async function start() {
    try {
      const rate = await microphone.start();
      model.send({ type: "start", rate });
      button.textContent = "\u25A0 Stop browser recording";
      note.textContent = `recording at ${rate} Hz`;
    } catch (error) {
      idle(error.message);
      model.send({ type: "error", message: error.message });
    }
  }

  function stop() {
    idle("");
    if (microphone.stop()) model.send({ type: "stop" });
  }

  button.addEventListener("click", () => (microphone.recording ? stop() : start()));
  model.on("msg:custom", (message) => { if (message.type === "stop") stop(); });
  idle("");
  return () => stop();
}

export default { render };
