"""Procedural song composer: a song plan (form, tempo map, harmony) and four coherent parts.

Everything is decided from ``numpy.random.default_rng([seed, index, part])``, so song
``index`` of a data set depends only on ``(seed, index)`` and each part has its own random
stream (changing the piano writer does not change the drums of the same song).

Time is handled in three units:

* **beats** (felt beats: quarter notes in 4/4 and 3/4, dotted quarters in 6/8), where the
  composer thinks;
* **ticks** (:data:`PPQ` per MIDI quarter note), what the MIDI file stores: note times are
  rounded to ticks once, after swing and humanising;
* **seconds**, derived from ticks through the song's tempo map (one tempo per bar, an integer
  number of microseconds per quarter note as in the MIDI file), which is exactly what
  ``pretty_midi`` computes from the written file, so the stored beat times are the MIDI's.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import mido
import numpy as np

from .styles import DRUM_NOTES, METERS, STEMS, STYLE_WEIGHTS, STYLES, Meter, Style
from .theory import BLUES_12, MODES, PROGRESSIONS, Chord, diatonic_chord, nearest_pitch

T = TypeVar("T")

#: MIDI ticks per quarter note (0.26 ms at 240 bpm): fine enough for humanised timing.
PPQ = 960
#: MIDI channel of each stem (drums on GM channel 10, i.e. index 9).
CHANNELS: dict[str, int] = {"bass": 0, "guitar": 1, "piano": 2, "drums": 9}
#: Sections in the order a song form may use them.
SECTION_ENERGY: dict[str, float] = {"intro": 0.35, "verse": 0.55, "chorus": 0.85,
                                    "bridge": 0.5, "outro": 0.4}
_FORMS: tuple[tuple[str, ...], ...] = (
    ("intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "chorus"),
    ("intro", "verse", "verse", "chorus", "bridge", "chorus", "chorus"),
    ("verse", "chorus", "verse", "chorus", "bridge", "chorus"),
    ("intro", "chorus", "verse", "chorus", "bridge", "verse", "chorus"),
)
_FORM_TAIL: tuple[str, ...] = ("verse", "chorus", "bridge", "chorus")
#: Random-stream tags: one independent stream per decision area.
_RNG_PLAN, _RNG_DRUMS, _RNG_BASS, _RNG_GUITAR, _RNG_PIANO = 0, 1, 2, 3, 4
_PART_RNG = {"drums": _RNG_DRUMS, "bass": _RNG_BASS, "guitar": _RNG_GUITAR, "piano": _RNG_PIANO}
#: How long the rendered MIDI runs past the song's end so notes are not cut by the renderer.
RENDER_TAIL_SECONDS = 0.25


@dataclass(frozen=True)
class Note:
    """One MIDI note in ticks."""

    start: int
    end: int
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Section:
    """A section of the form: bars ``[start_bar, start_bar + bars)``."""

    name: str
    start_bar: int
    bars: int
    energy: float
    active: tuple[str, ...]
    fill: bool

    @property
    def end_bar(self) -> int:
        return self.start_bar + self.bars


@dataclass(frozen=True)
class ChordSpan:
    """A chord held over beats ``[start, end)``."""

    start: float
    end: float
    chord: Chord


@dataclass(frozen=True)
class SongPlan:
    """The decisions that fix a song before any note is written."""

    seed: int
    index: int
    seconds: float
    style: Style
    meter: Meter
    #: Where the off-beat eighth falls inside the beat (0.5 = straight, 2/3 = triplet swing).
    swing: float
    #: Microseconds per MIDI quarter note of each bar (the tempo map).
    bar_tempi: tuple[int, ...]
    tempo_curve: str
    tonic: int
    mode: str
    sevenths: bool
    blues: bool
    programs: dict[str, int]
    sections: tuple[Section, ...]
    chords: tuple[ChordSpan, ...]
    #: Accompaniment pattern per stem per section (drums: the groove variant).
    patterns: dict[str, tuple[str, ...]]
    #: CC91 reverb / CC93 chorus send per stem.
    reverb: dict[str, int]
    chorus: dict[str, int]
    #: Mean timing offset of each stem in milliseconds (a player's "feel").
    feel_ms: dict[str, float]

    # ---- time bases -------------------------------------------------------------------
    @property
    def beats_per_bar(self) -> int:
        return self.meter.beats_per_bar

    @property
    def ticks_per_beat(self) -> int:
        return round(self.meter.quarters_per_beat * PPQ)

    @property
    def ticks_per_bar(self) -> int:
        return self.ticks_per_beat * self.beats_per_bar

    @property
    def n_bars(self) -> int:
        return len(self.bar_tempi)

    @property
    def bpm(self) -> float:
        """Felt-beat tempo of the first bar."""
        return self.bar_bpm(0)

    def bar_bpm(self, bar: int) -> float:
        return 60e6 / (self.bar_tempi[bar] * self.meter.quarters_per_beat)

    def _bar_starts_seconds(self) -> np.ndarray:
        bar_seconds = np.asarray(self.bar_tempi, dtype=np.float64) * (self.ticks_per_bar / PPQ)
        return np.concatenate([[0.0], np.cumsum(bar_seconds * 1e-6)])

    def tick_to_seconds(self, ticks: np.ndarray | Sequence[int] | int) -> np.ndarray:
        """Seconds of tick positions under the tempo map (the last tempo runs on after it)."""
        t = np.asarray(ticks, dtype=np.int64)
        bar = np.clip(t // self.ticks_per_bar, 0, self.n_bars - 1)
        starts = self._bar_starts_seconds()
        tempo = np.asarray(self.bar_tempi, dtype=np.float64)[bar]
        return starts[bar] + (t - bar * self.ticks_per_bar) * tempo * 1e-6 / PPQ

    def seconds_to_tick(self, seconds: float) -> int:
        """The first tick at or after ``seconds``."""
        starts = self._bar_starts_seconds()
        bar = int(np.clip(np.searchsorted(starts, seconds, side="right") - 1, 0, self.n_bars - 1))
        per_tick = self.bar_tempi[bar] * 1e-6 / PPQ
        return bar * self.ticks_per_bar + math.ceil((seconds - starts[bar]) / per_tick - 1e-9)

    def ticks_per_second(self, tick: int) -> float:
        bar = min(max(tick // self.ticks_per_bar, 0), self.n_bars - 1)
        return PPQ * 1e6 / self.bar_tempi[bar]

    # ---- annotations ------------------------------------------------------------------
    def beat_times(self) -> np.ndarray:
        """Seconds of every beat of the music (its bars), cut at the song's end."""
        n = self.n_bars * self.beats_per_bar
        times = self.tick_to_seconds(np.arange(n) * self.ticks_per_beat)
        return times[times < self.seconds]

    def downbeat_times(self) -> np.ndarray:
        times = self.tick_to_seconds(np.arange(self.n_bars) * self.ticks_per_bar)
        return times[times < self.seconds]

    def beat_to_seconds(self, beat: float) -> float:
        return float(self.tick_to_seconds(round(beat * self.ticks_per_beat)))

    def chord_segments(self) -> list[tuple[float, float, str]]:
        """``(start, end, label)`` in seconds, cropped to the song."""
        out = []
        for span in self.chords:
            start = self.beat_to_seconds(span.start)
            end = min(self.beat_to_seconds(span.end), self.seconds)
            if start < self.seconds:
                out.append((start, end, span.chord.label))
        return out

    def section_segments(self) -> list[tuple[float, float]]:
        bpb = self.beats_per_bar
        return [(self.beat_to_seconds(s.start_bar * bpb),
                 min(self.beat_to_seconds(s.end_bar * bpb), self.seconds))
                for s in self.sections]

    def chord_at(self, beat: float) -> ChordSpan:
        for span in self.chords:
            if span.start <= beat < span.end:
                return span
        return self.chords[-1]

    def next_chord(self, span: ChordSpan) -> Chord:
        i = self.chords.index(span)
        return self.chords[i + 1].chord if i + 1 < len(self.chords) else self.chords[0].chord

    def spans_in(self, section: Section) -> list[ChordSpan]:
        bpb = self.beats_per_bar
        lo, hi = section.start_bar * bpb, section.end_bar * bpb
        return [s for s in self.chords if lo <= s.start < hi]


# =========================================================================================
# Planning
# =========================================================================================
def _weighted(rng: np.random.Generator, weights: Mapping[T, float]) -> T:
    keys = list(weights)
    p = np.asarray([weights[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _tempo_map(rng: np.random.Generator, meter: Meter, bpm: float, seconds: float,
               curve: str) -> tuple[int, ...]:
    """Microseconds per quarter note for each bar: the whole bars that fit in ``seconds``
    (at least one). The time left after the last bar is the final chord ringing out."""
    base = 60e6 / (bpm * meter.quarters_per_beat)
    tempi: list[int] = []
    elapsed, drift = 0.0, 0.0
    while True:
        if curve == "drift" and tempi:
            # A slow random walk of the tempo, at most ±4 %: players speed up and settle.
            drift = float(np.clip(drift + rng.normal(0.0, 0.008), -0.04, 0.04))
        tempo = round(base / (1.0 + drift))
        elapsed += tempo * 1e-6 * meter.quarters_per_beat * meter.beats_per_bar
        if tempi and elapsed > seconds + 1e-9:
            return tuple(tempi)
        tempi.append(tempo)


def _form(rng: np.random.Generator, n_bars: int, bar_seconds: float) -> list[tuple[str, int, int]]:
    """``(name, start_bar, bars)`` for each section; phrases last about 4–10 seconds."""
    phrase = 2
    for candidate in (4, 8):
        if candidate * bar_seconds <= 10.0:
            phrase = candidate
    if n_bars <= phrase:  # a short excerpt: one section, the whole band
        return [(str(rng.choice(["verse", "chorus"])), 0, n_bars)]
    outro = min(int(rng.choice([1, 2, max(1, phrase // 2)])), n_bars // 3)
    body = n_bars - outro
    kinds = list(_FORMS[int(rng.integers(len(_FORMS)))])
    intro_len = max(1, phrase // 2) if rng.random() < 0.6 else phrase
    sections: list[tuple[str, int, int]] = []
    bar, k = 0, 0
    while bar < body:
        kind = kinds[k] if k < len(kinds) else _FORM_TAIL[(k - len(kinds)) % len(_FORM_TAIL)]
        length = min(intro_len if kind == "intro" else phrase, body - bar)
        sections.append((kind, bar, length))
        bar += length
        k += 1
    if outro:
        sections.append(("outro", bar, outro))
    return sections


def _activity(rng: np.random.Generator, kinds: list[str]) -> list[tuple[str, ...]]:
    """Which stems play in each section: whole-song absences plus per-section arrangement."""
    absent_p = {"bass": 0.06, "drums": 0.05, "guitar": 0.14, "piano": 0.14}
    absent = [s for s in STEMS if rng.random() < absent_p[s]][:2]
    present = [s for s in STEMS if s not in absent]
    out = []
    for kind in kinds:
        active = list(present)
        if kind in ("intro", "outro") and rng.random() < 0.65:
            k = int(rng.integers(1, max(2, len(present))))
            picks = rng.choice(len(present), size=k, replace=False)
            active = [present[i] for i in sorted(picks)]
        elif kind == "verse":
            for s in ("guitar", "piano"):
                if s in active and len(active) > 2 and rng.random() < 0.3:
                    active.remove(s)
        elif kind == "bridge":
            for s, p in (("drums", 0.3), ("bass", 0.15), ("guitar", 0.2), ("piano", 0.2)):
                if s in active and len(active) > 2 and rng.random() < p:
                    active.remove(s)
        out.append(tuple(active))
    return out


def _pick_pattern(rng: np.random.Generator, options: tuple[str, ...], energy: float) -> str:
    """Options are ordered sparse → busy; energy pulls the choice along that order."""
    if len(options) == 1:
        return options[0]
    pos = np.arange(len(options)) / (len(options) - 1)
    w = np.exp(-((pos - energy) ** 2) / 0.12)
    return options[int(rng.choice(len(options), p=w / w.sum()))]


def _groove_variant(energy: float) -> str:
    return "light" if energy < 0.45 else "heavy" if energy > 0.78 else "main"


def _chords(rng: np.random.Generator, style: Style, meter: Meter, bar_seconds: float,
            tonic: int, mode: str, sevenths: bool, blues: bool,
            sections: list[tuple[str, int, int]]) -> tuple[ChordSpan, ...]:
    bpb = meter.beats_per_bar
    spans: list[ChordSpan] = []
    if blues:
        for _name, start, bars in sections:
            for b in range(start, start + bars):
                step = BLUES_12[b % 12]
                quality = "min7" if mode in ("minor", "dorian") and step != 7 else "7"
                spans.append(ChordSpan(b * bpb, (b + 1) * bpb, Chord((tonic + step) % 12,
                                                                     quality)))
    else:
        # Harmonic rhythm: half bars in slow 4/4, two bars when bars are short.
        if meter.name == "4/4" and bar_seconds > 3.0 and rng.random() < 0.5:
            slot = bpb / 2
        elif bar_seconds < 1.6 and rng.random() < 0.6:
            slot = 2 * bpb
        else:
            slot = bpb
        pool = PROGRESSIONS[mode]
        progs: dict[str, tuple[int, ...]] = {}
        major_v = mode == "minor" and rng.random() < 0.5  # harmonic-minor dominant
        for name, start, bars in sections:
            key = "chorus" if name == "outro" else "verse" if name == "intro" else name
            if key not in progs:
                progs[key] = pool[int(rng.integers(len(pool)))]
            prog = progs[key]
            n = max(1, round(bars * bpb / slot))
            length = bars * bpb / n
            for j in range(n):
                degree = prog[j % len(prog)]
                if name == "outro" and j == n - 1:
                    degree = 0
                chord = diatonic_chord(tonic, mode, degree, sevenths)
                if major_v and degree == 4:
                    chord = Chord(chord.root, "7" if sevenths else "maj")
                spans.append(ChordSpan(start * bpb + j * length,
                                       start * bpb + (j + 1) * length, chord))
    merged: list[ChordSpan] = []
    for span in spans:  # a repeated chord is one chord, as an annotator would mark it
        if merged and merged[-1].chord == span.chord:
            merged[-1] = ChordSpan(merged[-1].start, span.end, span.chord)
        else:
            merged.append(span)
    return tuple(merged)


def plan_song(seed: int, index: int, seconds: float, style: str | None = None) -> SongPlan:
    """Decide style, meter, tempo map, key, form, harmony, arrangement and sounds of a song."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be > 0, got {seconds}")
    rng = np.random.default_rng([seed, index, _RNG_PLAN])
    if style is None:
        style = str(_weighted(rng, STYLE_WEIGHTS))
    elif style not in STYLES:
        raise ValueError(f"unknown style {style!r}; known: {', '.join(STYLES)}")
    st = STYLES[style]
    meter = METERS[st.meter]
    swing = 0.5
    if meter.subdivision == 2 and rng.random() < st.swing:
        swing = float(rng.uniform(0.6, 2 / 3))
    bpm = float(rng.uniform(*st.bpm))
    curve = "drift" if rng.random() < 0.2 else "constant"
    bar_tempi = _tempo_map(rng, meter, bpm, seconds, curve)
    bar_seconds = bar_tempi[0] * 1e-6 * meter.quarters_per_beat * meter.beats_per_bar
    tonic = int(rng.integers(12))
    mode = str(_weighted(rng, st.modes))
    sevenths = bool(rng.random() < st.sevenths)
    blues = bool(rng.random() < st.blues)
    programs = {
        "bass": int(_weighted(rng, st.bass_programs)),
        "drums": int(_weighted(rng, st.kits)),
        "guitar": int(_weighted(rng, st.guitar_programs)),
        "piano": int(_weighted(rng, st.piano_programs)),
    }
    form = _form(rng, len(bar_tempi), bar_seconds)
    kinds = [f[0] for f in form]
    active = _activity(rng, kinds)
    energies = []
    seen: dict[str, int] = {}
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        e = SECTION_ENERGY[kind] + 0.05 * (seen[kind] - 1) + rng.uniform(-0.1, 0.1)
        energies.append(float(np.clip(e, 0.15, 1.0)))
    sections = []
    rows = zip(form, active, energies, strict=True)
    for i, ((kind, start, bars), act, energy) in enumerate(rows):
        nxt = active[i + 1] if i + 1 < len(form) else ()
        fill = "drums" in act and bool(nxt) and rng.random() < 0.8
        sections.append(Section(kind, start, bars, energy, act, fill))
    chords = _chords(rng, st, meter, bar_seconds, tonic, mode, sevenths, blues, form)
    patterns: dict[str, tuple[str, ...]] = {}
    for stem in STEMS:
        per_kind: dict[str, str] = {}
        for sec in sections:
            if sec.name not in per_kind:
                if stem == "drums":
                    per_kind[sec.name] = _groove_variant(sec.energy)
                else:
                    per_kind[sec.name] = _pick_pattern(rng, getattr(st, stem), sec.energy)
        patterns[stem] = tuple(per_kind[s.name] for s in sections)
    reverb = {s: int(rng.integers(lo, hi)) for s, (lo, hi) in
              {"bass": (0, 30), "drums": (10, 60), "guitar": (20, 80), "piano": (20, 80)}.items()}
    chorus = {s: int(rng.integers(0, 40)) if s in ("guitar", "piano") else 0 for s in STEMS}
    feel = {s: 0.0 if s == "drums" else float(rng.uniform(-4.0, 6.0)) for s in STEMS}
    return SongPlan(seed=seed, index=index, seconds=float(seconds), style=st, meter=meter,
                    swing=swing, bar_tempi=bar_tempi, tempo_curve=curve, tonic=tonic, mode=mode,
                    sevenths=sevenths, blues=blues, programs=programs, sections=tuple(sections),
                    chords=chords, patterns=patterns, reverb=reverb, chorus=chorus, feel_ms=feel)


# =========================================================================================
# Part writing
# =========================================================================================
@dataclass
class _Writer:
    """Collects notes of one part: swing, humanised timing and velocity, ticks."""

    plan: SongPlan
    stem: str
    rng: np.random.Generator
    timing_scale: float = 1.0
    notes: list[Note] = field(default_factory=list)

    def swung(self, beat: float) -> float:
        s = self.plan.swing
        if s == 0.5:
            return beat
        whole = math.floor(beat + 1e-9)
        frac = beat - whole
        frac = frac * 2 * s if frac <= 0.5 else s + (frac - 0.5) * 2 * (1 - s)
        return whole + frac

    def add(self, beat: float, length: float, pitch: int, velocity: float,
            offset_ms: float = 0.0) -> None:
        """A note at ``beat`` lasting ``length`` beats; ``velocity`` before humanising."""
        if not 0 <= pitch <= 127:
            return
        tpb = self.plan.ticks_per_beat
        start = self.swung(beat) * tpb
        end = self.swung(beat + length) * tpb
        sd = self.plan.style.timing_ms * self.timing_scale
        ms = self.plan.feel_ms[self.stem] + offset_ms
        ms += float(np.clip(self.rng.normal(0.0, sd), -2.5 * sd, 2.5 * sd)) if sd > 0 else 0.0
        shift = ms * 1e-3 * self.plan.ticks_per_second(int(start))
        t0 = max(0, round(start + shift))
        t1 = max(t0 + PPQ // 32, round(end + shift))
        vel = int(np.clip(round(velocity + self.rng.normal(0.0, 5.0)), 1, 127))
        self.notes.append(Note(t0, t1, int(pitch), vel))

    def result(self) -> list[Note]:
        """Notes sorted, with same-pitch overlaps cut so a re-strike is never swallowed."""
        notes = sorted(self.notes, key=lambda n: (n.start, n.pitch, n.end))
        last: dict[int, int] = {}
        out: list[Note] = []
        for n in notes:
            if n.pitch in last:
                prev = out[last[n.pitch]]
                if prev.end > n.start:
                    if n.start <= prev.start:  # same onset twice: keep the first
                        continue
                    out[last[n.pitch]] = Note(prev.start, n.start, prev.pitch, prev.velocity)
            last[n.pitch] = len(out)
            out.append(n)
        return out


def _base_velocity(energy: float) -> float:
    return 46.0 + 62.0 * energy


def _steps(pattern: str, bpb: int) -> list[tuple[float, str]]:
    """``(beat within bar, symbol)`` for each non-rest step of a one-bar pattern string."""
    step = bpb / len(pattern)
    return [(j * step, ch) for j, ch in enumerate(pattern) if ch != "."]


_ACCENT = {"X": 1.0, "x": 0.82, "o": 0.4}
_FILL_TOMS = ("tom_hi", "tom_himid", "tom_lowmid", "tom_low", "floor_hi", "floor_low")


def _is_ending(plan: SongPlan, bar: int) -> bool:
    return bar == plan.n_bars - 1 and plan.sections[-1].name == "outro"


def _write_drums(plan: SongPlan, rng: np.random.Generator) -> list[Note]:
    w = _Writer(plan, "drums", rng, timing_scale=0.7)
    bpb = plan.beats_per_bar
    grooves = plan.style.grooves
    note = DRUM_NOTES
    # A fill subdivides the beat: 16ths when straight and not too fast, triplets in 6/8.
    if plan.meter.subdivision == 3:
        fill_grid = 3
    elif plan.swing != 0.5 or plan.bpm > 135:
        fill_grid = 2
    else:
        fill_grid = 4
    prev_fill = False
    for si, sec in enumerate(plan.sections):
        if "drums" not in sec.active:
            prev_fill = False
            continue
        groove = grooves[plan.patterns["drums"][si]]
        vel = _base_velocity(sec.energy)
        fill_beats = 0.0
        if sec.fill:
            fill_beats = float(rng.choice([1, 2, bpb] if bpb > 2 else [1, 2], p=(
                [0.45, 0.4, 0.15] if bpb > 2 else [0.6, 0.4])))
            fill_beats = min(fill_beats, bpb)
        fill_kind = str(rng.choice(["toms", "snare", "mixed"]))
        for bar in range(sec.start_bar, sec.end_bar):
            b0 = bar * bpb
            if _is_ending(plan, bar):
                w.add(b0, 1.0, note["crash"], vel * 1.05)
                w.add(b0, 0.5, note["kick"], vel)
                continue
            in_fill = sec.fill and bar == sec.end_bar - 1
            fill_from = bpb - fill_beats if in_fill else bpb
            if bar == sec.start_bar and (si > 0 or sec.energy > 0.6) and (
                    prev_fill or sec.energy > 0.6 or rng.random() < 0.3):
                w.add(b0, 1.0, note["crash"], vel * 0.95)
                if "kick" not in groove or groove["kick"][0] == ".":
                    w.add(b0, 0.5, note["kick"], vel * 0.9)
            for piece, pattern in groove.items():
                scale = 0.8 if piece in ("hat", "ride", "open", "shaker", "tamb", "pedal") else 1.0
                for pos, ch in _steps(pattern, bpb):
                    if pos >= fill_from - 1e-9:
                        continue
                    if piece == "hat" and "open" in groove and _steps_has(groove["open"], bpb, pos):
                        continue  # the open hat replaces the closed one on that step
                    w.add(b0 + pos, 0.25, note[piece], vel * scale * _ACCENT[ch])
            # Small variations so bars are not copies: a pickup kick, an open hat.
            if rng.random() < 0.15 and fill_from == bpb and "kick" in groove:
                pos = float(rng.choice(np.arange(1, 2 * bpb, 2) / 2))
                if not _steps_has(groove["kick"], bpb, pos):
                    w.add(b0 + pos, 0.25, note["kick"], vel * 0.7)
            if in_fill:
                _write_fill(w, b0 + fill_from, fill_beats, fill_grid, vel, fill_kind, rng)
        prev_fill = sec.fill
    return w.result()


def _steps_has(pattern: str, bpb: int, pos: float) -> bool:
    return any(abs(p - pos) < 1e-9 for p, _ in _steps(pattern, bpb))


def _write_fill(w: _Writer, start: float, beats: float, grid: int, vel: float, kind: str,
                rng: np.random.Generator) -> None:
    n = round(beats * grid)
    toms = [DRUM_NOTES[t] for t in _FILL_TOMS]
    for j in range(n):
        if j > 0 and j < n - 1 and rng.random() < 0.2:
            continue  # leave a gap now and then: fills breathe
        frac = j / max(1, n - 1)
        if kind == "snare" or (kind == "mixed" and frac < 0.5):
            pitch = DRUM_NOTES["snare"]
        else:
            pitch = toms[min(len(toms) - 1, int(frac * len(toms)))]
        w.add(start + j / grid, 0.25, pitch, vel * (0.6 + 0.45 * frac))
    w.add(start, 0.25, DRUM_NOTES["kick"], vel * 0.8)


def _bars_of(plan: SongPlan, span: ChordSpan) -> list[tuple[float, float, float]]:
    """``(bar start, segment start, segment end)`` for each bar a chord span touches."""
    bpb = plan.beats_per_bar
    out: list[tuple[float, float, float]] = []
    bar = math.floor(span.start / bpb + 1e-9)
    while bar * bpb < span.end - 1e-9:
        out.append((bar * bpb, max(span.start, bar * bpb), min(span.end, (bar + 1) * bpb)))
        bar += 1
    return out


PatternFn = Callable[[_Writer, SongPlan, ChordSpan, float, np.random.Generator, dict], None]


def _each_section(plan: SongPlan, stem: str, w: _Writer, rng: np.random.Generator,
                  fns: dict[str, PatternFn], state: dict) -> None:
    bpb = plan.beats_per_bar
    for si, sec in enumerate(plan.sections):
        if stem not in sec.active:
            continue
        name = plan.patterns[stem][si]
        vel = _base_velocity(sec.energy)
        state["section"] = sec
        for span in plan.spans_in(sec):
            if _is_ending(plan, math.floor(span.start / bpb + 1e-9)):
                # The song's final bar: everyone holds the last chord.
                fns["sustain"](w, plan, span, vel * 0.9, rng, state)
            else:
                fns[name](w, plan, span, vel, rng, state)


# ---- bass -------------------------------------------------------------------------------
def _bass_root(chord: Chord, state: dict) -> int:
    return nearest_pitch(chord.root, state["center"])


def _approach(target: int, rng: np.random.Generator) -> int:
    return target + int(rng.choice([-1, 1, -5, 2]))


def _bass_hits(w: _Writer, plan: SongPlan, span: ChordSpan, vel: float,
               rng: np.random.Generator, state: dict, positions: Sequence[float],
               length: float, pitch_fn: Callable[[int, int], int], approach: bool = True) -> None:
    root = _bass_root(span.chord, state)
    nxt = nearest_pitch(plan.next_chord(span).root, state["center"])
    hits = []
    for bar0, lo, hi in _bars_of(plan, span):
        hits += [bar0 + p for p in positions if lo - 1e-9 <= bar0 + p < hi - 1e-9]
    for k, beat in enumerate(hits):
        pitch = pitch_fn(root, k)
        last = k == len(hits) - 1
        if approach and last and len(hits) > 1 and rng.random() < 0.3:
            pitch = _approach(nxt, rng)
        nxt_beat = hits[k + 1] if not last else span.end
        accent = 1.0 if abs(beat - round(beat)) < 1e-9 else 0.85
        w.add(beat, min(length, nxt_beat - beat) * 0.92, pitch, vel * accent)


def _bass_whole(w, plan, span, vel, rng, state):
    _bass_hits(w, plan, span, vel, rng, state, [0.0], plan.beats_per_bar,
               lambda r, k: r, approach=False)


def _bass_half(w, plan, span, vel, rng, state):
    step = {4: 2.0, 3: 3.0, 2: 1.0}[plan.beats_per_bar]
    pos = list(np.arange(0, plan.beats_per_bar, step))
    _bass_hits(w, plan, span, vel, rng, state, pos, step,
               lambda r, k: r + 7 if k % 2 and state["fifths"] else r)


def _bass_quarters(w, plan, span, vel, rng, state):
    _bass_hits(w, plan, span, vel, rng, state, list(range(plan.beats_per_bar)), 1.0,
               lambda r, k: r if k % 2 == 0 or not state["fifths"] else r + 7)


def _bass_eighths(w, plan, span, vel, rng, state):
    pos = list(np.arange(0, plan.beats_per_bar, 0.5))
    _bass_hits(w, plan, span, vel * 0.95, rng, state, pos, 0.45,
               lambda r, k: r + 12 if state["octave_pop"] and k % 8 == 7 else r)


def _bass_kick(w, plan, span, vel, rng, state):
    sec = state["section"]
    groove = plan.style.grooves[plan.patterns["drums"][plan.sections.index(sec)]]
    kick = groove.get("kick", "x" + "." * 7)
    pos = [p for p, _ in _steps(kick, plan.beats_per_bar)]
    _bass_hits(w, plan, span, vel, rng, state, pos, 1.0,
               lambda r, k: r + 12 if k % 4 == 3 and state["octave_pop"] else r)


def _bass_root_fifth(w, plan, span, vel, rng, state):
    step = 2.0 if plan.beats_per_bar == 4 else 1.0
    pos = list(np.arange(0, plan.beats_per_bar, step))
    if plan.beats_per_bar == 3:
        pos = [0.0]
    _bass_hits(w, plan, span, vel, rng, state, pos, step,
               lambda r, k: r if k % 2 == 0 else (r + 7 if r + 7 <= 45 else r - 5))


def _bass_octave(w, plan, span, vel, rng, state):
    pos = list(np.arange(0, plan.beats_per_bar, 0.5))
    _bass_hits(w, plan, span, vel, rng, state, pos, 0.4, lambda r, k: r + 12 * (k % 2),
               approach=False)


def _bass_offbeat(w, plan, span, vel, rng, state):
    pos = list(np.arange(0.5, plan.beats_per_bar, 1.0))
    _bass_hits(w, plan, span, vel, rng, state, pos, 0.4, lambda r, k: r, approach=False)


def _bass_funk(w, plan, span, vel, rng, state):
    motif = state["funk_motif"]
    pos = [p for p, _ in _steps(motif["rhythm"], plan.beats_per_bar)]
    degrees = motif["degrees"]
    for bar0, lo, hi in _bars_of(plan, span):
        root = _bass_root(span.chord, state)
        for k, p in enumerate(pos):
            beat = bar0 + p
            if lo - 1e-9 <= beat < hi - 1e-9:
                ghost = motif["rhythm"][round(p * 4)] == "o"
                w.add(beat, 0.22, root + degrees[k % len(degrees)],
                      vel * (0.45 if ghost else 1.0))


def _bass_walking(w, plan, span, vel, rng, state):
    scale = [(plan.tonic + s) % 12 for s in MODES[plan.mode]]
    nxt = nearest_pitch(plan.next_chord(span).root, state["center"])
    for bar0, lo, hi in _bars_of(plan, span):
        beats = [b for b in np.arange(bar0, bar0 + plan.beats_per_bar) if lo - 1e-9 <= b < hi]
        pitch = _bass_root(span.chord, state)
        for k, beat in enumerate(beats):
            last_of_span = beat + 1 >= span.end - 1e-9
            if k == 0 and beat <= span.start + 1e-9:
                pitch = _bass_root(span.chord, state)
            elif last_of_span:
                pitch = _approach(nxt, rng)
            else:
                direction = 1 if nxt > pitch else -1
                cands = [p for p in range(pitch - 4, pitch + 5) if p != pitch and
                         p % 12 in scale and (p - pitch) * direction > 0]
                chord_tones = [p for p in cands if p % 12 in span.chord.pitch_classes]
                pick = chord_tones or cands or [pitch + direction * 2]
                pitch = int(pick[int(rng.integers(len(pick)))])
            pitch = int(np.clip(pitch, 28, 55))
            w.add(float(beat), 0.9, pitch, vel * (1.0 if k % 2 == 0 else 0.9))


def _bass_boogie(w, plan, span, vel, rng, state):
    third = span.chord.third
    figure = [0, third, 7, 9, 10, 9, 7, third]
    pos = list(np.arange(0, plan.beats_per_bar, 0.5))
    _bass_hits(w, plan, span, vel, rng, state, pos, 0.45,
               lambda r, k: r + figure[k % len(figure)], approach=False)


def _bass_bossa(w, plan, span, vel, rng, state):
    for bar0, lo, hi in _bars_of(plan, span):
        root = _bass_root(span.chord, state)
        fifth = root + 7 if root + 7 <= 45 else root - 5
        for p, length, pitch in ((0.0, 1.4, root), (1.5, 0.45, fifth), (2.0, 1.4, fifth),
                                 (3.5, 0.45, root)):
            if p < plan.beats_per_bar and lo - 1e-9 <= bar0 + p < hi - 1e-9:
                w.add(bar0 + p, length, pitch, vel * (1.0 if p % 1 == 0 else 0.85))


def _bass_dotted(w, plan, span, vel, rng, state):
    _bass_hits(w, plan, span, vel, rng, state, list(range(plan.beats_per_bar)), 1.0,
               lambda r, k: r if k % 2 == 0 else (r + 7 if r + 7 <= 45 else r - 5))


def _bass_arp68(w, plan, span, vel, rng, state):
    third = span.chord.third
    figure = [0, 7, 12, third + 12, 12, 7]
    pos = [k / 3 for k in range(3 * plan.beats_per_bar)]
    _bass_hits(w, plan, span, vel * 0.9, rng, state, pos, 0.4,
               lambda r, k: r + figure[k % len(figure)], approach=False)


_BASS: dict[str, PatternFn] = {
    "whole": _bass_whole, "sustain": _bass_whole, "half": _bass_half,
    "quarters": _bass_quarters, "eighths": _bass_eighths, "kick": _bass_kick,
    "root_fifth": _bass_root_fifth, "octave": _bass_octave, "offbeat": _bass_offbeat,
    "funk": _bass_funk, "walking": _bass_walking, "boogie": _bass_boogie, "bossa": _bass_bossa,
    "dotted": _bass_dotted, "arp68": _bass_arp68,
}

_FUNK_RHYTHMS = ("x..x..x.x.x..x..", "x.ox..x...x.ox..", "x..x.ox.x..x..o.", "x...x.oxx..x.x..")


def _write_bass(plan: SongPlan, rng: np.random.Generator) -> list[Note]:
    w = _Writer(plan, "bass", rng, timing_scale=0.8)
    rhythm = _FUNK_RHYTHMS[int(rng.integers(len(_FUNK_RHYTHMS)))]
    n_hits = sum(ch != "." for ch in rhythm)
    state: dict[str, Any] = {
        "center": float(rng.uniform(33, 40)),
        "fifths": bool(rng.random() < 0.5),
        "octave_pop": bool(rng.random() < 0.4),
        "funk_motif": {"rhythm": rhythm,
                       "degrees": [int(rng.choice([0, 0, 12, 7, 10])) for _ in range(n_hits)]},
    }
    state["funk_motif"]["degrees"][0] = 0
    _each_section(plan, "bass", w, rng, _BASS, state)
    return w.result()


# ---- voicings ---------------------------------------------------------------------------
def _guitar_voicing(chord: Chord, strings: int) -> list[int]:
    """A barre-like shape: root, fifth, octave, tenth, ... low on the neck (E2..E5)."""
    r = nearest_pitch(chord.root, 46)
    iv = chord.intervals
    seventh = iv[3] if len(iv) > 3 else 12
    shape = [r, r + iv[2], r + seventh, r + 12 + iv[1], r + 12 + iv[2], r + 24]
    return sorted(p for p in shape[:strings] if p <= 79)


def _close_voicing(chord: Chord, center: float, notes: int = 3) -> list[int]:
    """The inversion of the chord (within an octave) whose mean pitch is nearest ``center``."""
    pcs = list(chord.pitch_classes)[:max(notes, 3)]
    best: list[int] = []
    best_d = math.inf
    for inv in range(len(pcs)):
        order = pcs[inv:] + pcs[:inv]
        for base in (center - 7, center - 2):
            v = [nearest_pitch(order[0], base + 1)]
            for pc in order[1:]:
                v.append(v[-1] + (pc - v[-1]) % 12 or 12)
            d = abs(float(np.mean(v)) - center)
            if d < best_d:
                best, best_d = v, d
    return best


def _strum(w: _Writer, beat: float, length: float, pitches: Sequence[int], vel: float,
           up: bool, spread_ms: float) -> None:
    order = list(reversed(pitches)) if up else list(pitches)
    for k, p in enumerate(order):
        w.add(beat, length, p, vel * (0.97 ** k), offset_ms=k * spread_ms)


# ---- guitar -----------------------------------------------------------------------------
def _gtr_sustain(w, plan, span, vel, rng, state):
    v = _guitar_voicing(span.chord, 6)
    for _bar0, lo, hi in _bars_of(plan, span):
        _strum(w, lo, hi - lo, v, vel * 0.85, False, 18.0)


def _gtr_strum(w, plan, span, vel, rng, state):
    v = _guitar_voicing(span.chord, state["strings"])
    pattern = state["strum"]
    pos = _steps(pattern, plan.beats_per_bar)
    for bar0, lo, hi in _bars_of(plan, span):
        hits = [(bar0 + p, ch) for p, ch in pos if lo - 1e-9 <= bar0 + p < hi - 1e-9]
        for k, (beat, ch) in enumerate(hits):
            end = hits[k + 1][0] if k + 1 < len(hits) else hi
            up = ch == "U"
            _strum(w, beat, end - beat, v[-4:] if up else v, vel * (0.75 if up else 0.9),
                   up, 9.0)


def _gtr_power(w, plan, span, vel, rng, state):
    r = nearest_pitch(span.chord.root, 45)
    chord = [r, r + 7, r + 12]
    pos = list(np.arange(0, plan.beats_per_bar, 0.5))
    for bar0, lo, hi in _bars_of(plan, span):
        for p in pos:
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                accent = 1.0 if p == 0 else 0.8
                for q in chord:
                    w.add(bar0 + p, 0.35, q, vel * accent)


def _gtr_arp(w, plan, span, vel, rng, state):
    v = _guitar_voicing(span.chord, 6)
    order = state["arp_order"]
    sub = 1 / plan.meter.subdivision
    pos = list(np.arange(0, plan.beats_per_bar, sub))
    for bar0, lo, hi in _bars_of(plan, span):
        for k, p in enumerate(pos):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                w.add(bar0 + p, min(1.5, hi - bar0 - p), v[order[k % len(order)] % len(v)],
                      vel * (0.85 if k else 0.95))


def _gtr_arp68(w, plan, span, vel, rng, state):
    v = _guitar_voicing(span.chord, 5)
    order = [0, 2, 3, 4, 3, 2]
    for bar0, lo, hi in _bars_of(plan, span):
        for k in range(3 * plan.beats_per_bar):
            p = k / 3
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                w.add(bar0 + p, min(1.0, hi - bar0 - p), v[order[k % 6] % len(v)], vel * 0.85)


def _gtr_chop(w, plan, span, vel, rng, state):
    v = _close_voicing(span.chord, 67, 3)
    pos = _steps(state["chop"], plan.beats_per_bar)
    for bar0, lo, hi in _bars_of(plan, span):
        for p, ch in pos:
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                _strum(w, bar0 + p, 0.15, v, vel * _ACCENT[ch], False, 3.0)


def _gtr_riff(w, plan, span, vel, rng, state):
    riff = state["riff"]
    step = plan.beats_per_bar / len(riff)
    for bar0, lo, hi in _bars_of(plan, span):
        r = nearest_pitch(span.chord.root, 47)
        for k, deg in enumerate(riff):
            p = bar0 + k * step
            if deg is not None and lo - 1e-9 <= p < hi - 1e-9:
                w.add(p, step * 0.9, r + deg, vel * (1.0 if k % 2 == 0 else 0.85))


def _gtr_jazz(w, plan, span, vel, rng, state):
    iv = span.chord.intervals
    r = nearest_pitch(span.chord.root, 50)
    shell = [r, r + (iv[3] if len(iv) > 3 else 12), r + 12 + iv[1]]
    for bar0, lo, hi in _bars_of(plan, span):
        for p in range(plan.beats_per_bar):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                _strum(w, bar0 + p, 0.55, shell, vel * (0.8 if p % 2 == 0 else 0.9), False, 4.0)


def _gtr_bossa(w, plan, span, vel, rng, state):
    v = _guitar_voicing(span.chord, 5)
    thumb, upper = v[0], v[2:]
    for bar0, lo, hi in _bars_of(plan, span):
        hits = [0.0, 1.5, 2.5] if (bar0 // plan.beats_per_bar) % 2 == 0 else [0.5, 1.5, 3.0]
        for p in (0.0, 2.0):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                w.add(bar0 + p, 1.5, thumb if p == 0 else thumb + 7, vel * 0.85)
        for p in hits:
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                _strum(w, bar0 + p, 0.45, upper, vel * 0.75, False, 6.0)


def _gtr_shuffle(w, plan, span, vel, rng, state):
    r = nearest_pitch(span.chord.root, 45)
    for bar0, lo, hi in _bars_of(plan, span):
        for k, p in enumerate(np.arange(0, plan.beats_per_bar, 0.5)):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                top = r + (9 if (k // 2) % 2 else 7)
                for q in (r, top):
                    w.add(bar0 + p, 0.4, q, vel * (0.95 if k % 2 == 0 else 0.8))


def _gtr_waltz(w, plan, span, vel, rng, state):
    v = _guitar_voicing(span.chord, 6)
    for bar0, lo, hi in _bars_of(plan, span):
        if lo - 1e-9 <= bar0 < hi - 1e-9:
            w.add(bar0, 0.9, v[0], vel * 0.95)
        for p in range(1, plan.beats_per_bar):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                _strum(w, bar0 + p, 0.6, v[2:], vel * 0.75, False, 6.0)


_GUITAR: dict[str, PatternFn] = {
    "sustain": _gtr_sustain, "strum": _gtr_strum, "power": _gtr_power, "arp": _gtr_arp,
    "arp68": _gtr_arp68, "chop": _gtr_chop, "riff": _gtr_riff, "jazz": _gtr_jazz,
    "bossa": _gtr_bossa, "shuffle": _gtr_shuffle, "waltz": _gtr_waltz,
}
_STRUMS = {4: ("D.DU.UDU", "D.D.D.DU", "D..UD.DU", "D.DUD.DU", "D.D.DUDU"),
           3: ("D.DUDU", "D.D.D.", "D.DUDU"),
           2: ("D.UD.U", "D..D..", "D.UDUU")}
_CHOPS = ("..x...x...x...x.", "..x..x.x..x..x.x", ".xx..x...xx..x..", "..X...x...X...x.")
_RIFFS = ((0, None, 12, 10, 7, None, 5, 3), (0, 0, 3, 5, 7, 5, 3, None),
          (0, None, 0, 10, None, 7, 5, None), (0, 7, 12, 7, 10, 7, 5, 7))


def _write_guitar(plan: SongPlan, rng: np.random.Generator) -> list[Note]:
    w = _Writer(plan, "guitar", rng)
    strums = _STRUMS[plan.beats_per_bar]
    state = {
        "strum": strums[int(rng.integers(len(strums)))],
        "strings": int(rng.integers(4, 7)),
        "arp_order": [[0, 2, 1, 3, 2, 4, 3, 2], [0, 3, 2, 4, 1, 3, 2, 5],
                      [0, 1, 2, 3, 4, 3, 2, 1]][int(rng.integers(3))],
        "chop": _CHOPS[int(rng.integers(len(_CHOPS)))],
        "riff": _RIFFS[int(rng.integers(len(_RIFFS)))],
    }
    _each_section(plan, "guitar", w, rng, _GUITAR, state)
    return w.result()


# ---- piano ------------------------------------------------------------------------------
def _pn_rh(span: ChordSpan, state: dict) -> list[int]:
    v = _close_voicing(span.chord, state["center"], 4 if len(span.chord.intervals) > 3 else 3)
    state["center"] = 0.7 * state["center"] + 0.3 * float(np.mean(v)) + 0.3 * (
        state["home"] - state["center"])  # voice-lead, but drift back home
    return v


def _pn_lh(span: ChordSpan) -> int:
    return nearest_pitch(span.chord.root, 43)


def _pn_sustain(w, plan, span, vel, rng, state):
    rh, lh = _pn_rh(span, state), _pn_lh(span)
    for _bar0, lo, hi in _bars_of(plan, span):
        for p in [lh, lh + 12, *rh]:
            w.add(lo, (hi - lo) * 0.97, p, vel * 0.8)


def _pn_block(w, plan, span, vel, rng, state):
    rh, lh = _pn_rh(span, state), _pn_lh(span)
    for bar0, lo, hi in _bars_of(plan, span):
        for p in range(plan.beats_per_bar):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                for q in rh:
                    w.add(bar0 + p, 0.85, q, vel * (0.95 if p == 0 else 0.8))
        w.add(lo, hi - lo, lh, vel * 0.9)


def _pn_comp(w, plan, span, vel, rng, state):
    rh, lh = _pn_rh(span, state), _pn_lh(span)
    pos = _steps(state["comp"], plan.beats_per_bar)
    for bar0, lo, hi in _bars_of(plan, span):
        w.add(lo, min(2.0, hi - lo), lh, vel * 0.85)
        for p, ch in pos:
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                for q in rh:
                    w.add(bar0 + p, 0.4, q, vel * 0.85 * _ACCENT[ch])


def _pn_arp(w, plan, span, vel, rng, state):
    rh, lh = _pn_rh(span, state), _pn_lh(span)
    seq = [*rh, rh[0] + 12, *rh[1:][::-1]]
    sub = 1 / plan.meter.subdivision
    for bar0, lo, hi in _bars_of(plan, span):
        w.add(lo, hi - lo, lh, vel * 0.85)
        for k, p in enumerate(np.arange(0, plan.beats_per_bar, sub)):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                w.add(bar0 + p, sub * 1.5, seq[k % len(seq)], vel * (0.85 if k else 0.95))


def _pn_ballad(w, plan, span, vel, rng, state):
    rh, lh = _pn_rh(span, state), _pn_lh(span)
    figure = [0, 7, 12, 16 if span.chord.third == 4 else 15, 12, 7, 12, 7]
    for bar0, lo, hi in _bars_of(plan, span):
        for k, p in enumerate(np.arange(0, plan.beats_per_bar, 0.5)):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                w.add(bar0 + p, 0.9, lh + figure[k % len(figure)], vel * 0.75)
        for p in (0.0, plan.beats_per_bar / 2):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                for q in rh:
                    w.add(bar0 + p, plan.beats_per_bar / 2 * 0.95, q, vel * 0.85)


def _pn_stabs(w, plan, span, vel, rng, state):
    rh = _pn_rh(span, state)
    for bar0, lo, hi in _bars_of(plan, span):
        for p in np.arange(0.5, plan.beats_per_bar, 1.0):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                for q in rh:
                    w.add(bar0 + p, 0.2, q, vel * 0.85)


def _pn_jazz(w, plan, span, vel, rng, state):
    iv = span.chord.intervals
    r = nearest_pitch(span.chord.root, 52)
    seventh = iv[3] if len(iv) > 3 else 12
    rootless = sorted([r + iv[1], r + seventh, r + 14, r + 12 + iv[2]])
    rhythms = ((0.0, 1.5), (0.5, 2.5), (1.5, 3.0), (0.0, 2.5), (1.0, 2.5, 3.5))
    for bar0, lo, hi in _bars_of(plan, span):
        for p in rhythms[int(rng.integers(len(rhythms)))]:
            if p < plan.beats_per_bar and lo - 1e-9 <= bar0 + p < hi - 1e-9:
                for q in rootless:
                    w.add(bar0 + p, 0.6, q, vel * 0.75)


def _pn_waltz(w, plan, span, vel, rng, state):
    rh, lh = _pn_rh(span, state), _pn_lh(span)
    for bar0, lo, hi in _bars_of(plan, span):
        if lo - 1e-9 <= bar0 < hi - 1e-9:
            w.add(bar0, 0.95, lh, vel * 0.9)
        for p in range(1, plan.beats_per_bar):
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                for q in rh:
                    w.add(bar0 + p, 0.7, q, vel * 0.75)


def _pn_arp68(w, plan, span, vel, rng, state):
    rh, lh = _pn_rh(span, state), _pn_lh(span)
    seq = [rh[0], rh[1], rh[-1], rh[0] + 12, rh[-1], rh[1]]
    for bar0, lo, hi in _bars_of(plan, span):
        w.add(lo, hi - lo, lh, vel * 0.85)
        for k in range(3 * plan.beats_per_bar):
            p = k / 3
            if lo - 1e-9 <= bar0 + p < hi - 1e-9:
                w.add(bar0 + p, 0.5, seq[k % 6], vel * 0.8)


_PIANO: dict[str, PatternFn] = {
    "sustain": _pn_sustain, "block": _pn_block, "comp": _pn_comp, "arp": _pn_arp,
    "ballad": _pn_ballad, "stabs": _pn_stabs, "jazz": _pn_jazz, "waltz": _pn_waltz,
    "arp68": _pn_arp68,
}
_COMPS = ("x..x..x.....x...", "x.....x.x..x....", "..x...x...x..x..", "x..x...x..x...x.")


def _write_piano(plan: SongPlan, rng: np.random.Generator) -> list[Note]:
    w = _Writer(plan, "piano", rng)
    home = float(rng.uniform(62, 70))
    comp = _COMPS[int(rng.integers(len(_COMPS)))]
    if plan.beats_per_bar != 4:
        comp = "x.x..x"[: 2 * plan.beats_per_bar] if plan.beats_per_bar == 3 else "x..x.."
    state = {"home": home, "center": home, "comp": comp}
    _each_section(plan, "piano", w, rng, _PIANO, state)
    return w.result()


_WRITERS: dict[str, Callable[[SongPlan, np.random.Generator], list[Note]]] = {
    "bass": _write_bass, "drums": _write_drums, "guitar": _write_guitar, "piano": _write_piano,
}


# =========================================================================================
# The composed song
# =========================================================================================
@dataclass(frozen=True)
class Composition:
    """A planned song with its four parts as notes (ticks)."""

    plan: SongPlan
    parts: dict[str, list[Note]]

    def midi(self, stems: Sequence[str] = STEMS) -> mido.MidiFile:
        """A type-1 MIDI file: a conductor track (meter, tempo map) and one track per stem."""
        plan = self.plan
        mid = mido.MidiFile(type=1, ticks_per_beat=PPQ)
        conductor = mido.MidiTrack()
        events: list[tuple[int, mido.MetaMessage]] = [
            (0, mido.MetaMessage("track_name", name="conductor")),
            (0, mido.MetaMessage("time_signature", numerator=plan.meter.numerator,
                                 denominator=plan.meter.denominator)),
        ]
        prev = None
        for bar, tempo in enumerate(plan.bar_tempi):
            if tempo != prev:
                events.append((bar * plan.ticks_per_bar, mido.MetaMessage("set_tempo",
                                                                          tempo=tempo)))
                prev = tempo
        # The renderer stops at the last event: mark the end a little after the song ends.
        end = plan.seconds_to_tick(plan.seconds + RENDER_TAIL_SECONDS)
        _append_delta(conductor, events)
        conductor.append(mido.MetaMessage("end_of_track",
                                          time=max(0, end - _track_ticks(conductor))))
        mid.tracks.append(conductor)
        for stem in stems:
            ch = CHANNELS[stem]
            head = [(0, mido.MetaMessage("track_name", name=stem)),
                    (0, mido.Message("program_change", channel=ch,
                                     program=plan.programs[stem])),
                    (0, mido.Message("control_change", channel=ch, control=7, value=100)),
                    (0, mido.Message("control_change", channel=ch, control=10, value=64)),
                    (0, mido.Message("control_change", channel=ch, control=91,
                                     value=plan.reverb[stem])),
                    (0, mido.Message("control_change", channel=ch, control=93,
                                     value=plan.chorus[stem]))]
            notes: list[tuple[int, int, mido.Message]] = []
            for n in self.parts[stem]:
                # Note-offs sort before note-ons at the same tick (key 0 < 1).
                notes.append((n.start, 1, mido.Message("note_on", channel=ch, note=n.pitch,
                                                       velocity=n.velocity)))
                notes.append((n.end, 0, mido.Message("note_off", channel=ch, note=n.pitch,
                                                     velocity=0)))
            notes.sort(key=lambda e: (e[0], e[1], e[2].note))
            track = mido.MidiTrack()
            _append_delta(track, head + [(t, m) for t, _, m in notes])
            track.append(mido.MetaMessage("end_of_track", time=0))
            mid.tracks.append(track)
        return mid

    def midi_bytes(self, stems: Sequence[str] = STEMS) -> bytes:
        buf = io.BytesIO()
        self.midi(stems).save(file=buf)
        return buf.getvalue()

    def pretty_midi(self, stems: Sequence[str] = STEMS):  # -> pretty_midi.PrettyMIDI
        """The song as a ``pretty_midi.PrettyMIDI`` (parsed from the exact MIDI bytes)."""
        import pretty_midi

        return pretty_midi.PrettyMIDI(io.BytesIO(self.midi_bytes(stems)))

    def silent_stems(self) -> list[str]:
        return [s for s in STEMS if not self.parts[s]]

    def note_onsets(self, stem: str) -> np.ndarray:
        """Seconds of the note onsets of one stem (sorted, unique)."""
        ticks = np.unique([n.start for n in self.parts[stem]])
        return self.plan.tick_to_seconds(ticks) if len(ticks) else np.zeros(0)


def _append_delta(track: mido.MidiTrack, events: list[tuple[int, mido.Message]]) -> None:
    now = 0
    for tick, msg in sorted(events, key=lambda e: e[0]):
        track.append(msg.copy(time=tick - now))
        now = tick


def _track_ticks(track: mido.MidiTrack) -> int:
    return sum(m.time for m in track)


def compose_song(seed: int, index: int, seconds: float, style: str | None = None) -> Composition:
    """Plan song ``index`` of the data set with ``seed`` and write its four parts."""
    plan = plan_song(seed, index, seconds, style)
    parts = {}
    for stem in STEMS:
        rng = np.random.default_rng([seed, index, _PART_RNG[stem]])
        notes = _WRITERS[stem](plan, rng)
        end = plan.seconds_to_tick(plan.seconds)
        parts[stem] = [n for n in notes if n.start < end]
    return Composition(plan, parts)
