// Subtitles (SubRip, WebVTT) from transcript segments {text, start_s, end_s, words?}. A segment
// without words is one cue, as the server's `format=srt|vtt` makes it; one with words
// [{text, start_s, end_s}] is cut into cues of at most CUE_CHARS characters and CUE_S seconds,
// shown on two lines when longer than LINE_CHARS.
const CUE_CHARS = 40, LINE_CHARS = 20, CUE_S = 6;

function timestamp(seconds, separator) {
  const ms = Math.max(0, Math.round(seconds * 1000)), pad = (value, width) => String(value).padStart(width, "0");
  return `${pad(Math.floor(ms / 3_600_000), 2)}:${pad(Math.floor(ms / 60_000) % 60, 2)}:` +
    `${pad(Math.floor(ms / 1000) % 60, 2)}${separator}${pad(ms % 1000, 3)}`;
}

// Two lines broken at the space nearest the middle, when the text is longer than one line.
function lines(text) {
  if (text.length <= LINE_CHARS) return text;
  let cut = -1;
  for (let i = text.indexOf(" "); i >= 0; i = text.indexOf(" ", i + 1)) {
    if (cut < 0 || Math.abs(i - text.length / 2) < Math.abs(cut - text.length / 2)) cut = i;
  }
  return cut < 0 ? text : `${text.slice(0, cut)}\n${text.slice(cut + 1)}`;
}

export function cues(segments) {
  const out = [];
  for (const segment of segments) {
    const text = segment.text.split(/\s+/).filter(Boolean).join(" ");
    if (!text) continue;
    if (!segment.words || !segment.words.length) {
      out.push({ start: segment.start_s, end: Math.max(segment.end_s, segment.start_s), text });
      continue;
    }
    const parts = [];
    for (const word of segment.words) {
      const cue = parts[parts.length - 1];
      if (cue && cue.text.length + 1 + word.text.length <= CUE_CHARS && word.end_s - cue.start <= CUE_S) {
        Object.assign(cue, { end: word.end_s, text: `${cue.text} ${word.text}` });
      } else {
        parts.push({ start: word.start_s, end: word.end_s, text: word.text });
      }
    }
    out.push(...parts.map((cue) => ({ ...cue, text: lines(cue.text) })));
  }
  return out.map((cue) => ({ ...cue, end: Math.max(cue.end, cue.start) }));
}

export function subtitles(segments, format) {
  const separator = format === "srt" ? "," : ".";
  const body = cues(segments).map((cue, index) =>
    `${format === "srt" ? `${index + 1}\n` : ""}${timestamp(cue.start, separator)} --> ` +
    `${timestamp(cue.end, separator)}\n${cue.text}\n\n`).join("");
  return format === "srt" ? body : `WEBVTT\n\n${body}`;
}
