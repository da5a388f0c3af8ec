// The workbench's transcript: each word of a final is a button that plays its span (raw or
// denoised audio, as chosen), the word being played is highlighted, and the transcript and the
// enhanced audio download in the browser (nothing is written on the server).
// Model: lines [{text, start_s, end_s, words: [{text, start_s, end_s}]}], partial, placeholder,
// raw and mixed (WAV bytes), play_from ("denoised" | "raw"), files {ext: text}, basename.

const FORMATS = [["txt", "text/plain"], ["srt", "application/x-subrip"], ["vtt", "text/vtt"],
                 ["json", "application/json"]];

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function wavBlob(value) {
  // bytes arrive as a DataView (or an ArrayBuffer)
  return value && value.byteLength > 44 ? new Blob([value], { type: "audio/wav" }) : null;
}

function save(name, blob) {
  const link = element("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

function render({ model, el }) {
  el.classList.add("wb-words");
  const bar = element("div", "wb-words-bar");
  const from = element("span", "wb-play-from");
  from.title = "Which signal a click on a word plays: the denoised mix at the current dry, or the raw input";
  from.append("click a word to hear it, from: ");
  const choices = {};
  for (const kind of ["denoised", "raw"]) {
    const label = element("label");
    const radio = element("input");
    radio.type = "radio";
    radio.value = kind;
    radio.className = `wb-play-${kind}`;
    radio.addEventListener("change", () => { model.set("play_from", kind); model.save_changes(); });
    choices[kind] = radio;
    label.append(radio, ` ${kind} `);
    from.append(label);
  }
  const downloads = element("span", "wb-downloads");
  downloads.append("download: ");
  const buttons = {};
  for (const [ext, type] of [...FORMATS, ["wav", "audio/wav"]]) {
    const button = element("button", `jupyter-button wb-download wb-download-${ext}`, ext.toUpperCase());
    button.title = ext === "wav" ? "The enhanced audio at the current dry: 16 kHz mono 16-bit WAV"
      : ext === "json" ? "Segments with their words and times, as the service's /v1/recognize answers"
        : ext === "txt" ? "The transcript's text" : `Subtitles (${ext.toUpperCase()})`;
    button.addEventListener("click", () => {
      const base = model.get("basename") || "transcript";
      if (ext === "wav") save(`${base}.wav`, wavBlob(model.get("mixed")));
      else save(`${base}.${ext}`, new Blob([model.get("files")[ext] || ""], { type: `${type};charset=utf-8` }));
    });
    buttons[ext] = button;
    downloads.append(button);
  }
  bar.append(from, downloads);
  const lines = element("div", "wb-transcript");
  const audio = element("audio", "wb-word-audio");
  audio.controls = true;
  audio.preload = "auto";
  el.append(bar, lines, audio);

  let url = null, shown = null, stopAt = null, words = [], frame = 0;

  function source() {
    const wanted = model.get("play_from") === "raw" ? "raw" : "mixed";
    const value = model.get(wanted);
    if (shown !== value) {
      if (url) URL.revokeObjectURL(url);
      const blob = wavBlob(value);
      url = blob ? URL.createObjectURL(blob) : null;
      shown = value;
      stopAt = null;
      if (url) audio.src = url; else audio.removeAttribute("src");
    }
    return url;
  }

  function highlight() {
    const now = audio.currentTime;
    for (const word of words) {
      word.classList.toggle("wb-word-playing", !audio.paused && now >= word.start && now < word.end);
    }
  }

  function tick() {
    if (stopAt !== null && audio.currentTime >= stopAt) {
      audio.pause();
      stopAt = null;
    }
    highlight();
    frame = audio.paused ? 0 : requestAnimationFrame(tick);
  }

  function play(start, end) {
    if (!source()) return;
    const go = () => {
      audio.currentTime = start;
      stopAt = end;
      audio.play().catch(() => {});
    };
    if (audio.readyState >= 1) go(); else audio.addEventListener("loadedmetadata", go, { once: true });
  }

  audio.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(tick); });
  audio.addEventListener("pause", highlight);
  audio.addEventListener("ended", () => { stopAt = null; highlight(); });

  function drawLines() {
    lines.replaceChildren();
    words = [];
    for (const line of model.get("lines")) {
      const row = element("div", "wb-final");
      row.append(element("span", "wb-time", `[${line.start_s.toFixed(2)}–${line.end_s.toFixed(2)} s] `));
      const text = element("span", "wb-final-text");
      (line.words || []).forEach((word, index) => {
        if (index) text.append(" ");
        const button = element("button", "wb-word", word.text);
        button.title = `${word.start_s.toFixed(2)}–${word.end_s.toFixed(2)} s`;
        button.start = word.start_s;
        button.end = word.end_s;
        button.addEventListener("click", () => play(word.start_s, word.end_s));
        words.push(button);
        text.append(button);
      });
      if (!(line.words || []).length) text.append(line.text);
      row.append(text);
      lines.append(row);
    }
    const partial = model.get("partial");
    if (partial) lines.append(element("div", "wb-partial", partial));
    if (!lines.childElementCount) lines.append(element("div", "wb-placeholder", model.get("placeholder")));
  }

  function drawBar() {
    const has = model.get("lines").length > 0;
    for (const [ext] of FORMATS) buttons[ext].disabled = !has;
    buttons.wav.disabled = !wavBlob(model.get("mixed"));
    for (const kind in choices) choices[kind].checked = model.get("play_from") === kind;
  }

  function sourceChanged() {
    const wasPlaying = !audio.paused;
    if (wasPlaying) audio.pause();
    source();
  }

  drawLines();
  drawBar();
  source();
  model.on("change:lines", () => { drawLines(); drawBar(); });
  model.on("change:partial", drawLines);
  model.on("change:placeholder", drawLines);
  model.on("change:files", drawBar);
  model.on("change:mixed", () => { drawBar(); sourceChanged(); });
  model.on("change:raw", sourceChanged);
  model.on("change:play_from", () => { drawBar(); sourceChanged(); });
  return () => {
    if (frame) cancelAnimationFrame(frame);
    if (url) URL.revokeObjectURL(url);
  };
}

export default { render };
