"""Music theory for the song composer: keys, modes, diatonic chords, progressions, chord labels.

Chord labels follow the MIREX / ``mir_eval.chord`` syntax (``"C:maj"``, ``"A:min7"``,
``"Bb:7"``, ``"N"`` for no chord) so chord annotations can be scored with ``mir_eval``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Pitch-class names used in labels (flats where a key signature would usually use them).
NOTE_NAMES: tuple[str, ...] = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")

#: Scale steps (semitones above the tonic) of the modes the composer uses.
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
}

#: Intervals above the root of each chord quality (mir_eval shorthand names).
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "hdim7": (0, 3, 6, 10),
    "minmaj7": (0, 3, 7, 11),
    "dim7": (0, 3, 6, 9),
}

_TRIADS = {(4, 7): "maj", (3, 7): "min", (3, 6): "dim", (4, 8): "aug"}
_SEVENTHS = {(4, 7, 11): "maj7", (4, 7, 10): "7", (3, 7, 10): "min7", (3, 6, 10): "hdim7",
             (3, 7, 11): "minmaj7", (3, 6, 9): "dim7", (4, 8, 11): "maj7"}

#: Progressions as 0-based scale degrees, per mode (one chord per harmonic-rhythm slot).
PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 3), (0, 3, 0, 4), (5, 3, 0, 4),
              (1, 4, 0, 0), (0, 3, 1, 4), (0, 2, 3, 4), (0, 4, 3, 4), (0, 5, 1, 4),
              (3, 4, 0, 5), (0, 0, 3, 3)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4), (0, 3, 6, 2),
              (0, 6, 5, 4), (5, 6, 0, 0), (0, 3, 0, 4)),
    "dorian": ((0, 3), (0, 3, 0, 6), (0, 1, 0, 3), (0, 6, 3, 0)),
    "mixolydian": ((0, 6, 3, 0), (0, 3, 6, 3), (0, 6, 0, 3), (0, 4, 6, 3)),
}

#: Twelve-bar blues as (semitones above the tonic) per bar, played as dominant sevenths.
BLUES_12: tuple[int, ...] = (0, 5, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7)


@dataclass(frozen=True)
class Chord:
    """A chord: root pitch class (0 = C) and a quality from :data:`QUALITIES`."""

    root: int
    quality: str

    def __post_init__(self) -> None:
        if self.quality not in QUALITIES:
            raise ValueError(f"unknown chord quality {self.quality!r}; known: {sorted(QUALITIES)}")
        if not 0 <= self.root < 12:
            raise ValueError(f"chord root must be a pitch class 0..11, got {self.root}")

    @property
    def intervals(self) -> tuple[int, ...]:
        return QUALITIES[self.quality]

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in self.intervals)

    @property
    def third(self) -> int:
        """Interval of the chord's third (or fourth for sus chords), in semitones."""
        return self.intervals[1]

    @property
    def fifth(self) -> int:
        return self.intervals[2]

    @property
    def label(self) -> str:
        """MIREX chord label, e.g. ``"Eb:maj7"``."""
        return f"{NOTE_NAMES[self.root]}:{self.quality}"


def diatonic_chord(tonic: int, mode: str, degree: int, seventh: bool = False) -> Chord:
    """The chord built by stacking thirds of ``mode`` on scale ``degree`` (0-based)."""
    scale = MODES[mode]
    steps = [scale[(degree + 2 * k) % 7] + 12 * ((degree + 2 * k) // 7) for k in range(4)]
    rel = (steps[1] - steps[0], steps[2] - steps[0], steps[3] - steps[0])
    quality = _SEVENTHS[rel] if seventh else _TRIADS[rel[:2]]
    return Chord((tonic + steps[0]) % 12, quality)


def key_name(tonic: int, mode: str) -> str:
    return f"{NOTE_NAMES[tonic]} {mode}"


def scale_pitch_classes(tonic: int, mode: str) -> tuple[int, ...]:
    return tuple((tonic + s) % 12 for s in MODES[mode])


def nearest_pitch(pitch_class: int, target: float) -> int:
    """The MIDI pitch of ``pitch_class`` nearest to ``target`` (ties go down)."""
    base = round(target) - 6
    return base + (pitch_class - base) % 12
