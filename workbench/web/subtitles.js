// Subtitles (SubRip, WebVTT) from transcript segments {text, start_s, end_s, words?}: the same cues
// as the server's `format=srt|vtt` (workbench/subtitles.py). A segment's words are gathered in order
// into a cue while its text still wraps into MAX_LINES lines of at most LINE_CHARS characters
// (broken between words; a longer word keeps a line of its own) and it lasts at most MAX_CUE_S from
// its first word's start to its last word's end. A segment without words is one word over its span.
const LINE_CHARS = 20, MAX_LINES = 2, MAX_CUE_S = 6;

function timestamp(seconds, separator) {
  const ms = Math.max(0, Math.round(seconds * 1000)), pad = (value, width) => String(value).padStart(width, "0");
  return `${pad(Math.floor(ms / 3_600_000), 2)}:${pad(Math.floor(ms / 60_000) % 60, 2)}:` +
    `${pad(Math.floor(ms / 1000) % 60, 2)}${separator}${pad(ms % 1000, 3)}`;
}

// Greedy wrap, as Python's textwrap.wrap(text, LINE_CHARS, break_long_words=False).
function wrap(words) {
  const lines = [];
  for (const piece of words.map((word) => word.text).join(" ").split(" ").filter(Boolean)) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + piece.length <= LINE_CHARS) lines[last] += ` ${piece}`;
    else lines.push(piece);
  }
  return lines;
}

const fits = (words) => wrap(words).length <= MAX_LINES && words[words.length - 1].end_s - words[0].start_s <= MAX_CUE_S;

export function cues(segments) {
  const out = [];
  for (const segment of segments) {
    const text = segment.text.split(/\s+/).filter(Boolean).join(" ");
    if (!text) continue;
    let words = (segment.words || []).filter((word) => word.text.trim());
    if (!words.length) words = [{ text, start_s: segment.start_s, end_s: Math.max(segment.end_s, segment.start_s) }];
    const groups = [[words[0]]];
    for (const word of words.slice(1)) {
      const group = groups[groups.length - 1];
      if (fits([...group, word])) group.push(word);
      else groups.push([word]);
    }
    out.push(...groups.map((group) => ({
      start: group[0].start_s, end: Math.max(group[group.length - 1].end_s, group[0].start_s),
      text: wrap(group).join("\n"),
    })));
  }
  return out;
}

export function subtitles(segments, format) {
  const separator = format === "srt" ? "," : ".";
  const body = cues(segments).map((cue, index) =>
    `${format === "srt" ? `${index + 1}\n` : ""}${timestamp(cue.start, separator)} --> ` +
    `${timestamp(cue.end, separator)}\n${cue.text}\n\n`).join("");
  return format === "srt" ? body : `WEBVTT\n\n${body}`;
}
