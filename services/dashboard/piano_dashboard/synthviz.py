"""SynthViz: a falling-notes keyboard view that plays in time with an <audio> element.

The page is self-contained HTML (canvas + script, audio inlined as a data: URL) for st.iframe. Each
animation frame reads audio.currentTime, so seeking, pausing and the playback rate are all honoured.
"""

import base64
import json

from piano_ai.constants import HIGHEST_KEY, LOWEST_KEY
from piano_dashboard.midi_tools import NoteRow

LOOKAHEAD_S = 3.0  # seconds of future notes visible above the keyboard
HEIGHT_PX = 420  # canvas height; the keyboard takes the bottom sixth

_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
 body { margin: 0; font-family: sans-serif; background: #0e1117; color: #ddd; }
 #bar { display: flex; align-items: center; gap: 12px; padding: 6px 4px; }
 audio { flex: 1; height: 36px; }
 canvas { display: block; width: 100%; height: __HEIGHT__px; background: #111522; border-radius: 6px; }
</style></head><body>
<div id="bar"><audio id="player" controls preload="auto" src="__AUDIO__"></audio>
<span id="clock">0.0 s</span></div>
<canvas id="roll" data-notes="__COUNT__"></canvas>
<script>
const NOTES = __NOTES__;            // [pitch, start s, end s, velocity], sorted by start
const LOW = __LOW__, HIGH = __HIGH__, LOOKAHEAD = __LOOKAHEAD__;
const MAX_DUR = NOTES.reduce((m, n) => Math.max(m, n[2] - n[1]), 0);
const player = document.getElementById("player"), canvas = document.getElementById("roll");
const clock = document.getElementById("clock"), ctx = canvas.getContext("2d");
const BLACK = new Set([1, 3, 6, 8, 10]);
const isBlack = p => BLACK.has(p % 12);
function layout() {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * dpr; canvas.height = canvas.clientHeight * dpr;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
}
function keyX(p, w) {  // x and width of key p: white keys share the width, black keys sit between
  let whites = 0; for (let q = LOW; q <= HIGH; q++) if (!isBlack(q)) whites++;
  const ww = w / whites; let i = 0; for (let q = LOW; q < p; q++) if (!isBlack(q)) i++;
  return isBlack(p) ? [i * ww - ww * 0.3, ww * 0.6] : [i * ww, ww];
}
const keyCache = {};
function firstIndex(t) {  // first note whose start >= t (binary search)
  let lo = 0, hi = NOTES.length;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (NOTES[mid][1] < t) lo = mid + 1; else hi = mid; }
  return lo;
}
function draw() {
  const w = canvas.clientWidth, h = canvas.clientHeight, kh = h / 6, fall = h - kh;
  const t = player.currentTime; clock.textContent = t.toFixed(1) + " s";
  ctx.clearRect(0, 0, w, h);
  const down = new Map();
  for (let i = firstIndex(t - MAX_DUR); i < NOTES.length && NOTES[i][1] < t + LOOKAHEAD; i++) {
    const [p, s, e, v] = NOTES[i]; if (e < t) continue;
    const [x, kw] = keyCache[p] || (keyCache[p] = keyX(p, w));
    const yBottom = fall - (Math.max(s, t) - t) / LOOKAHEAD * fall;
    const yTop = fall - (Math.min(e, t + LOOKAHEAD) - t) / LOOKAHEAD * fall;
    const hue = 200 - v / 127 * 160;
    ctx.fillStyle = `hsl(${hue}, 80%, ${isBlack(p) ? 45 : 60}%)`;
    ctx.fillRect(x + 1, yTop, kw - 2, Math.max(2, yBottom - yTop));
    if (s <= t) down.set(p, hue);
  }
  for (const pass of [false, true]) {   // white keys first, black keys on top
    for (let p = LOW; p <= HIGH; p++) {
      if (isBlack(p) !== pass) continue;
      const [x, kw] = keyCache[p] || (keyCache[p] = keyX(p, w));
      const lit = down.get(p);
      ctx.fillStyle = lit !== undefined ? `hsl(${lit}, 85%, 55%)` : (pass ? "#222" : "#f4f4f4");
      ctx.fillRect(x, fall, kw - (pass ? 0 : 1), pass ? kh * 0.62 : kh);
    }
  }
  ctx.fillStyle = "#777"; ctx.font = "9px sans-serif"; ctx.textAlign = "center";
  for (let p = LOW; p <= HIGH; p++) {  // octave labels on the C keys: C4 is middle C
    if (p % 12 !== 0) continue;
    const [x, kw] = keyCache[p] || (keyCache[p] = keyX(p, w));
    ctx.fillText("C" + (p / 12 - 1), x + kw / 2, h - 4);
  }
  requestAnimationFrame(draw);
}
window.addEventListener("resize", () => { for (const k in keyCache) delete keyCache[k]; layout(); });
layout(); requestAnimationFrame(draw);
</script></body></html>
"""


def synthviz_html(rows: list[NoteRow], audio: bytes, mime: str = "audio/ogg") -> str:
    """The SynthViz page for these notes, playing ``audio`` (bytes of a ``mime`` file)."""
    notes = [
        [r.pitch, round(r.start, 4), round(r.end, 4), r.velocity] for r in sorted(rows, key=lambda r: r.start)
    ]
    low = min([LOWEST_KEY, *(r.pitch for r in rows)])
    high = max([HIGHEST_KEY, *(r.pitch for r in rows)])
    source = f"data:{mime};base64,{base64.b64encode(audio).decode()}"
    replacements = {
        "__NOTES__": json.dumps(notes, separators=(",", ":")),
        "__COUNT__": str(len(notes)),
        "__LOW__": str(low),
        "__HIGH__": str(high),
        "__LOOKAHEAD__": str(LOOKAHEAD_S),
        "__HEIGHT__": str(HEIGHT_PX),
        "__AUDIO__": source,
    }
    page = _TEMPLATE
    for marker, value in replacements.items():
        page = page.replace(marker, value)
    return page
