"""The piano roll's player: an audio element, in a small iframe, that moves a playhead over the piano roll
above it while the recording or the MIDI rendering plays, and seeks where the roll is clicked.

The roll is the page's own plotly chart (st.plotly_chart inside ``st.container(key=box)``); the iframe
shares the app's origin (st.iframe), so its script finds that chart by the container's class and reads
plotly's axis (``_fullLayout.xaxis``) to turn seconds into pixels and back. The keys of the notes sounding
at the playhead light up on the roll's keyboard (figures.piano_roll: note bars on axis ``x``, the keyboard
on ``x2``). Nothing is fetched: the audio is inlined as data: URLs and the script is this file's.
"""

import base64
import json
from dataclasses import dataclass

from piano_dashboard.figures import BLACK_KEY_LENGTH, BLACK_KEYS

HEIGHT_PX = 56  # the player's strip
LIT_KEY = "rgba(228, 87, 46, 0.85)"  # a sounding key on the keyboard: the playhead's colour
LARGEST_INLINE_BYTES = 48 * 1024 * 1024  # audio inlined into the page at most (a data: URL per source)


@dataclass(frozen=True)
class AudioSource:
    label: str  # e.g. "Original recording"
    data: bytes  # a whole audio file
    mime: str  # its content type, e.g. "audio/mpeg"


_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
 body { margin: 0; font-family: "Source Sans Pro", sans-serif; font-size: 14px; color: #31333f; }
 #bar { display: flex; align-items: center; gap: 10px; padding: 6px 2px; }
 button { border: 1px solid #d0d0d5; background: #fff; border-radius: 6px; padding: 4px 12px; }
 audio { flex: 1; height: 36px; }
 #clock { min-width: 90px; text-align: right; font-variant-numeric: tabular-nums; }
</style></head><body>
<div id="bar">
 <button id="play" type="button">▶ Play</button>
 <select id="source" aria-label="Play">__OPTIONS__</select>
 <audio id="player" controls preload="auto"></audio>
 <span id="clock">0.0 s</span>
</div>
<script>
const SOURCES = __SOURCES__;   // [[label, data URL]]
const BOX = __BOX__;           // the st.container key around the roll's chart
const player = document.getElementById("player"), play = document.getElementById("play");
const source = document.getElementById("source"), clock = document.getElementById("clock");
const BLACK = new Set(__BLACK_KEYS__);   // pitch classes of the black keys
const BLACK_LENGTH = __BLACK_LENGTH__;   // of the keyboard's width
const LIT = __LIT__;
const doc = window.parent.document;
player.src = SOURCES[0][1];
if (SOURCES.length < 2) source.style.display = "none";
source.addEventListener("change", () => {   // the other source, from the same moment
  const at = player.currentTime, playing = !player.paused;
  player.src = SOURCES[source.selectedIndex][1];
  player.addEventListener("loadedmetadata", () => {
    player.currentTime = Math.min(at, player.duration || at);
    if (playing) player.play();
  }, { once: true });
});
play.addEventListener("click", () => (player.paused ? player.play() : player.pause()));
player.addEventListener("play", () => (play.textContent = "❚❚ Pause"));
player.addEventListener("pause", () => (play.textContent = "▶ Play"));
function chart() { return doc.querySelector(".st-key-" + BOX + " .js-plotly-plot"); }
function seek(t) { player.currentTime = Math.max(0, Math.min(t, player.duration || t)); }
// This player's own mark on the chart: a player reloaded by a rerun (the chart kept) binds again, and the
// listeners of a player that is gone leave with it.
const MARK = Math.random().toString(36).slice(2), gone = new AbortController();
window.addEventListener("pagehide", () => gone.abort());
function bind(gd) {   // click-to-seek: a click (not a zoom drag) on the roll plays from there
  if (gd.dataset.seekBound === MARK) return;
  gd.dataset.seekBound = MARK;
  const listen = { capture: true, signal: gone.signal };
  let down = null;
  gd.addEventListener("pointerdown", e => {
    down = e.target.classList.contains("nsewdrag") ? [e.clientX, e.clientY, e.target] : null;
  }, listen);
  doc.addEventListener("pointerup", e => {
    if (!down || !gd.isConnected) return;
    const [x, y, drag] = down; down = null;
    if (Math.abs(e.clientX - x) > 3 || Math.abs(e.clientY - y) > 3) return;   // a zoom box, not a click
    const xa = gd._fullLayout.xaxis;
    seek(xa.p2l(x - drag.getBoundingClientRect().left));
  }, listen);
}
function head(gd) {
  const box = gd.querySelector(".svg-container");
  let line = box.querySelector(".playhead");
  if (!line) {
    line = doc.createElement("div");
    line.className = "playhead";
    line.style.cssText = "position:absolute;width:2px;margin-left:-1px;background:#e4572e;" +
      "pointer-events:none;z-index:5;display:none";
    box.appendChild(line);
  }
  return line;
}
let notes = [], notesOf = null;   // [start s, end s, pitch] of the roll's note bars, read once per figure
function sounding(gd, t) {   // the pitches sounding at t, lowest first
  if (notesOf !== gd._fullData) {
    notesOf = gd._fullData; notes = [];
    for (const tr of gd._fullData) {   // the note bars: horizontal bars on the time axis
      if (tr.type !== "bar" || tr.xaxis !== "x" || tr.orientation !== "h" || !tr.base) continue;
      for (let i = 0; i < tr.y.length; i++) notes.push([tr.base[i], tr.base[i] + tr.x[i], tr.y[i]]);
    }
  }
  const on = new Set();
  for (const [start, end, pitch] of notes) if (start <= t && t < end) on.add(pitch);
  return [...on].sort((a, b) => a - b);
}
function keyShape(pitch) {   // a key as [low pitch, high pitch, from, to (0..1 of the keyboard's width)]
  const black = p => BLACK.has(((p % 12) + 12) % 12);
  if (black(pitch)) return [[pitch - 0.5, pitch + 0.5, 0, BLACK_LENGTH]];
  const parts = [[pitch - 0.5, pitch + 0.5, 0, 1]];   // a white key reaches under its black neighbours
  if (black(pitch - 1)) parts.push([pitch - 1, pitch - 0.5, BLACK_LENGTH, 1]);
  if (black(pitch + 1)) parts.push([pitch + 0.5, pitch + 1, BLACK_LENGTH, 1]);
  return parts;
}
function light(gd, box, t) {   // colour the keys of the sounding notes on the keyboard (axis x2)
  let lit = box.querySelector(".lit-keys");
  if (!lit) {
    lit = doc.createElement("div");
    lit.className = "lit-keys";
    lit.style.cssText = "position:absolute;left:0;top:0;pointer-events:none;z-index:4";
    box.appendChild(lit);
  }
  const kb = gd._fullLayout.xaxis2, ya = gd._fullLayout.yaxis;
  const pitches = kb ? sounding(gd, t) : [];
  lit.dataset.pitches = pitches.join(" ");
  const parts = pitches.flatMap(pitch => keyShape(pitch).map(part => [pitch, ...part]));
  while (lit.children.length > parts.length) lit.lastChild.remove();
  parts.forEach(([pitch, low, high, from, to], i) => {
    const el = lit.children[i] || lit.appendChild(doc.createElement("div"));
    const top = Math.max(ya.l2p(high), 0), bottom = Math.min(ya.l2p(low), ya._length);
    el.className = "lit-key";
    el.dataset.pitch = pitch;
    const left = kb._offset + kb.l2p(from), width = kb.l2p(to) - kb.l2p(from);
    Object.assign(el.style, {
      position: "absolute", background: LIT, display: bottom > top ? "block" : "none",
      left: left.toFixed(1) + "px", width: width.toFixed(1) + "px",
      top: (ya._offset + top).toFixed(1) + "px", height: (bottom - top).toFixed(1) + "px",
    });
  });
}
function draw() {
  const t = player.currentTime;
  clock.textContent = t.toFixed(1) + (player.duration ? " / " + player.duration.toFixed(1) : "") + " s";
  const gd = chart();
  if (gd && gd._fullLayout && gd._fullLayout.xaxis && gd.querySelector(".svg-container")) {
    bind(gd);
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, line = head(gd);
    const [a, b] = xa.range;
    line.dataset.time = t.toFixed(3);
    line.style.display = t >= a && t <= b ? "block" : "none";
    line.style.left = (xa._offset + xa.l2p(t)).toFixed(1) + "px";
    line.style.top = ya._offset + "px";
    line.style.height = ya._length + "px";
    light(gd, gd.querySelector(".svg-container"), t);
  }
  requestAnimationFrame(draw);
}
requestAnimationFrame(draw);
</script></body></html>
"""


def player_html(sources: list[AudioSource], box: str) -> str:
    """The player page for ``sources`` (the first plays first), driving the roll in container ``box``."""
    if not sources:
        raise ValueError("the player needs at least one audio source")
    urls = [[s.label, f"data:{s.mime};base64,{base64.b64encode(s.data).decode()}"] for s in sources]
    options = "".join(f"<option>{_escape(s.label)}</option>" for s in sources)
    page = _TEMPLATE.replace("__OPTIONS__", options).replace("__BOX__", json.dumps(box))
    constants = {"BLACK_KEYS": sorted(BLACK_KEYS), "BLACK_LENGTH": BLACK_KEY_LENGTH, "LIT": LIT_KEY}
    for name, value in constants.items():
        page = page.replace(f"__{name}__", json.dumps(value))
    return page.replace("__SOURCES__", json.dumps(urls))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
