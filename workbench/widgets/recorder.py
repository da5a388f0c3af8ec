"""Browser microphone: getUserMedia -> AudioWorklet -> Int16 PCM chunks sent to the kernel.

It records where the browser runs, so it also works when the kernel is on a
remote server. Messages to Python: ``{"type": "start", "rate"}``, ``{"type":
"chunk", "rate"}`` with Int16 PCM in the first buffer (100 ms at 16 kHz, which
the browser is asked for, else 250 ms at its own rate), ``{"type": "stop"}``
and ``{"type": "error", "message"}``. Python sends ``{"type": "stop"}`` to end
a recording.
"""
from typing import Callable

import anywidget

ESM = r"""
const WORKLET = `
class WorkbenchTap extends AudioWorkletProcessor {
  process(inputs) {
    if (inputs[0] && inputs[0][0]) this.port.postMessage(inputs[0][0].slice(0));
    return true;
  }
}
registerProcessor("workbench-tap", WorkbenchTap);
`;
const WORKLET_URL = URL.createObjectURL(new Blob([WORKLET], { type: "application/javascript" }));

function render({ model, el }) {
  const button = document.createElement("button");
  button.className = "jupyter-button widget-button wb-record-browser-button";
  button.style.width = "auto";
  button.style.padding = "0 12px";
  const note = document.createElement("span");
  note.className = "wb-record-browser-note";
  note.style.marginLeft = "8px";
  el.append(button, note);
  let context = null, stream = null, pending = [], pendingLength = 0;

  const idle = (text) => { button.textContent = "\u25CF Record in browser"; note.textContent = text || ""; };
  const fail = (message) => { stop(false); idle(message); model.send({ type: "error", message }); };

  function sendChunks(size, rate, all) {
    while (pendingLength >= size || (all && pendingLength > 0)) {
      const count = Math.min(size, pendingLength);
      const pcm = new Int16Array(count);
      let filled = 0;
      while (filled < count) {
        const head = pending[0], take = Math.min(head.length, count - filled);
        for (let i = 0; i < take; i++) pcm[filled + i] = Math.max(-32768, Math.min(32767, Math.round(head[i] * 32768)));
        filled += take;
        if (take === head.length) pending.shift(); else pending[0] = head.subarray(take);
      }
      pendingLength -= count;
      model.send({ type: "chunk", rate }, undefined, [pcm.buffer]);
    }
  }

  function openContext() {
    // Let the browser resample to 16 kHz (cheaper than resampling each chunk in Python); a browser
    // that cannot connect a microphone to a context of another rate records at its own rate.
    for (const options of [{ sampleRate: 16000 }, {}]) {
      context = new AudioContext(options);
      try {
        return context.createMediaStreamSource(stream);
      } catch (error) {
        context.close();
        context = null;
        if (!options.sampleRate) throw error;
      }
    }
  }

  async function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      fail("this browser offers no microphone here (it needs https or localhost)");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: {
        echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 } });
    } catch (error) {
      fail(`no microphone in this browser: ${error.name}: ${error.message}`);
      return;
    }
    try {
      const source = openContext();
      await context.audioWorklet.addModule(WORKLET_URL);
      const node = new AudioWorkletNode(context, "workbench-tap");
      const rate = context.sampleRate, size = Math.round(rate * (rate === 16000 ? 0.1 : 0.25));
      node.port.onmessage = (event) => {
        pending.push(event.data);
        pendingLength += event.data.length;
        sendChunks(size, rate, false);
      };
      pending = []; pendingLength = 0;
      source.connect(node);
      node.connect(context.destination);  // an unconnected worklet never runs
      model.send({ type: "start", rate });
      button.textContent = "\u25A0 Stop browser recording";
      note.textContent = `recording at ${rate} Hz`;
    } catch (error) {
      fail(`cannot record in this browser: ${error.name}: ${error.message}`);
    }
  }

  function stop(notify = true) {
    if (context) {
      sendChunks(Infinity, context.sampleRate, true);
      context.close();
    }
    if (stream) stream.getTracks().forEach((track) => track.stop());
    const wasRecording = context !== null;
    context = null; stream = null; pending = []; pendingLength = 0;
    idle("");
    if (notify && wasRecording) model.send({ type: "stop" });
  }

  button.addEventListener("click", () => (context ? stop() : start()));
  model.on("msg:custom", (message) => { if (message.type === "stop") stop(); });
  idle("");
  return () => stop();
}

export default { render };
"""


class BrowserRecorder(anywidget.AnyWidget):
    """A record button that streams the browser's microphone to ``on_start/on_chunk/on_stop/on_error``."""

    _esm = ESM

    def __init__(self, on_start: Callable[[int], None], on_chunk: Callable[[bytes, int], None],
                 on_stop: Callable[[], None], on_error: Callable[[str], None]):
        super().__init__()
        self._handlers = {"start": lambda content, buffers: on_start(int(content["rate"])),
                          "chunk": lambda content, buffers: on_chunk(bytes(buffers[0]), int(content["rate"])),
                          "stop": lambda content, buffers: on_stop(),
                          "error": lambda content, buffers: on_error(str(content.get("message", "")))}
        self.on_msg(self.receive)

    def receive(self, _widget, content: dict, buffers: list) -> None:
        """Dispatch one message from the browser (runs on the kernel's main thread: keep it quick)."""
        handler = self._handlers.get(content.get("type") if isinstance(content, dict) else None)
        if handler is None:
            return
        try:
            handler(content, buffers)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            self._handlers["error"]({"message": f"bad message from the browser recorder: {error!r}"}, [])

    def stop(self) -> None:
        """Ask the browser to stop recording (it answers with a 'stop' message if it was recording)."""
        self.send({"type": "stop"})
