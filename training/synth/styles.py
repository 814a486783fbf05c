"""Meters, General MIDI programs, drum kit notes and the style table the composer draws from.

A style fixes the meter, the tempo range, whether the eighths swing, the drum grooves
(``light``/``main``/``heavy`` by section energy), the accompaniment patterns each part may
use (ordered from sparse to busy) and the GM programs each part may be played with.

Drum grooves are one bar of step strings, one per kit piece: ``X`` accent, ``x`` hit,
``o`` ghost note, ``.`` rest. A string of ``n`` steps in a bar of ``b`` beats puts a step
every ``b/n`` beats, so the same notation covers 16th grids in 4/4 and eighth grids in 6/8.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The stems every song has, in the label order of the model (the reference paper's grouping).
STEMS: tuple[str, ...] = ("bass", "drums", "guitar", "piano")


@dataclass(frozen=True)
class Meter:
    """A time signature and how its felt beat maps to MIDI quarter notes.

    ``beats_per_bar`` counts felt beats (two dotted quarters in 6/8), which is also what
    ``pretty_midi.PrettyMIDI.get_beats`` reports for compound meters.
    """

    name: str
    numerator: int
    denominator: int
    beats_per_bar: int
    quarters_per_beat: float
    #: Natural subdivision of the beat (2 = eighths in simple meters, 3 in compound ones).
    subdivision: int


METERS: dict[str, Meter] = {
    "4/4": Meter("4/4", 4, 4, 4, 1.0, 2),
    "3/4": Meter("3/4", 3, 4, 3, 1.0, 2),
    "6/8": Meter("6/8", 6, 8, 2, 1.5, 3),
}

#: General MIDI percussion keys (channel 10) used by the grooves and fills.
DRUM_NOTES: dict[str, int] = {
    "kick": 36, "snare": 38, "rim": 37, "clap": 39, "hat": 42, "pedal": 44, "open": 46,
    "ride": 51, "bell": 53, "crash": 49, "crash2": 57, "tamb": 54, "cowbell": 56,
    "shaker": 70, "tom_hi": 50, "tom_himid": 48, "tom_lowmid": 47, "tom_low": 45,
    "floor_hi": 43, "floor_low": 41,
}

#: GM program names for the programs the styles use (for metadata and `data info`).
PROGRAM_NAMES: dict[int, str] = {
    0: "Acoustic Grand Piano", 1: "Bright Acoustic Piano", 2: "Electric Grand Piano",
    3: "Honky-tonk Piano", 4: "Electric Piano 1", 5: "Electric Piano 2", 6: "Harpsichord",
    7: "Clavinet", 16: "Drawbar Organ", 17: "Percussive Organ", 18: "Rock Organ",
    19: "Church Organ", 20: "Reed Organ", 24: "Acoustic Guitar (nylon)",
    25: "Acoustic Guitar (steel)", 26: "Electric Guitar (jazz)", 27: "Electric Guitar (clean)",
    28: "Electric Guitar (muted)", 29: "Overdriven Guitar", 30: "Distortion Guitar",
    31: "Guitar Harmonics", 32: "Acoustic Bass", 33: "Electric Bass (finger)",
    34: "Electric Bass (pick)", 35: "Fretless Bass", 36: "Slap Bass 1", 37: "Slap Bass 2",
    38: "Synth Bass 1", 39: "Synth Bass 2",
}

#: GM drum kits (program numbers on channel 10) that TimGM6mb renders distinctly.
DRUM_KITS: dict[int, str] = {0: "Standard", 8: "Room", 16: "Power", 24: "Electronic",
                             25: "TR-808", 40: "Brush"}

Groove = dict[str, str]


@dataclass(frozen=True)
class Style:
    """Everything the composer needs to know about one style."""

    name: str
    meter: str
    bpm: tuple[float, float]
    grooves: dict[str, Groove]
    bass: tuple[str, ...]
    guitar: tuple[str, ...]
    piano: tuple[str, ...]
    bass_programs: dict[int, float]
    guitar_programs: dict[int, float]
    piano_programs: dict[int, float]
    kits: dict[int, float]
    #: Probability that the eighths swing (0 for straight styles, 1 for shuffle and jazz).
    swing: float = 0.0
    #: Probability that chords are sevenths rather than triads.
    sevenths: float = 0.0
    #: Standard deviation of the humanised onset timing, in milliseconds.
    timing_ms: float = 5.0
    #: Mode weights; the default favours major and minor.
    modes: dict[str, float] = field(default_factory=lambda: {
        "major": 0.45, "minor": 0.35, "dorian": 0.1, "mixolydian": 0.1})
    #: Probability that the song is a twelve-bar blues (dominant sevenths).
    blues: float = 0.0


def _g(**pieces: str) -> Groove:
    return dict(pieces)


STYLES: dict[str, Style] = {
    "rock": Style(
        "rock", "4/4", (88, 160),
        {"light": _g(kick="x.......x.x.....", snare="....x.......x...", hat="X.x.X.x.X.x.X.x."),
         "main": _g(kick="x.......x.x.....", snare="....X.......X...", hat="X.x.X.x.X.x.X.x."),
         "heavy": _g(kick="x.....x.x.x.....", snare="....X.......X...",
                     ride="X.x.X.x.X.x.X.x.")},
        bass=("half", "eighths", "kick"), guitar=("sustain", "strum", "power", "riff"),
        piano=("sustain", "block", "arp"),
        bass_programs={33: 2, 34: 3, 38: 0.5}, guitar_programs={29: 3, 30: 3, 27: 1, 25: 1},
        piano_programs={0: 3, 1: 1, 18: 1, 16: 0.5}, kits={0: 3, 8: 1, 16: 2},
        timing_ms=6.0),
    "pop": Style(
        "pop", "4/4", (80, 132),
        {"light": _g(kick="x.........x.....", rim="....x.......x...", hat="x.x.x.x.x.x.x.x."),
         "main": _g(kick="x.....x.x.......", snare="....X.......X...", hat="XoxoXoxoXoxoXoxo"),
         "heavy": _g(kick="x.....x.x.x.....", snare="....X.......X...", hat="x...x...x...x...",
                     open="..x...x...x...x.", tamb="....x.......x...")},
        bass=("half", "eighths", "kick"), guitar=("sustain", "arp", "strum", "chop"),
        piano=("sustain", "arp", "block", "comp"),
        bass_programs={33: 3, 34: 1, 38: 1, 35: 0.5}, guitar_programs={25: 3, 27: 2, 24: 1},
        piano_programs={0: 3, 1: 1, 4: 2, 5: 1, 2: 0.5}, kits={0: 3, 8: 1, 24: 1},
        sevenths=0.2, timing_ms=4.0),
    "funk": Style(
        "funk", "4/4", (88, 118),
        {"light": _g(kick="x..x......x..x..", snare="....X..o.o..X..o", hat="xoxoxoxoxoxoxoxo"),
         "main": _g(kick="x..x..x...x..x..", snare="....X..o.o..X.o.", hat="XoxoXoxoXoxoXoxo"),
         "heavy": _g(kick="x..x..x...xx.x..", snare="....X..o.o..X..o", hat="XoxoXoxoXoxoXo.o",
                     open="..............x.")},
        bass=("kick", "funk", "octave"), guitar=("chop", "riff", "strum"),
        piano=("stabs", "comp", "sustain"),
        bass_programs={33: 2, 36: 2, 37: 1, 34: 1}, guitar_programs={28: 3, 27: 2, 26: 0.5},
        piano_programs={7: 3, 4: 2, 16: 1, 5: 1}, kits={0: 2, 8: 1},
        sevenths=0.7, timing_ms=3.5, modes={"dorian": 0.4, "minor": 0.3, "mixolydian": 0.3}),
    "disco": Style(
        "disco", "4/4", (108, 132),
        {"light": _g(kick="x...x...x...x...", hat="..x...x...x...x."),
         "main": _g(kick="x...x...x...x...", snare="....X.......X...", hat="x.x.x.x.x.x.x.x.",
                    open="..x...x...x...x."),
         "heavy": _g(kick="x...x...x...x...", snare="....X.......X...", clap="....X.......X...",
                     hat="xoxoxoxoxoxoxoxo", open="..x...x...x...x.")},
        bass=("eighths", "octave"), guitar=("chop", "strum"), piano=("block", "stabs"),
        bass_programs={33: 2, 34: 1, 38: 1, 39: 1}, guitar_programs={27: 2, 28: 2},
        piano_programs={0: 1, 4: 2, 5: 1, 16: 1}, kits={0: 2, 8: 1, 24: 1},
        sevenths=0.4, timing_ms=3.0),
    "dance": Style(
        "dance", "4/4", (118, 136),
        {"light": _g(kick="x...x...x...x...", hat="..x...x...x...x."),
         "main": _g(kick="x...x...x...x...", clap="....X.......X...", hat="..x...x...x...x."),
         "heavy": _g(kick="x...x...x...x...", clap="....X.......X...", hat="xxxxxxxxxxxxxxxx",
                     open="..x...x...x...x.")},
        bass=("offbeat", "octave", "eighths"), guitar=("sustain", "chop"),
        piano=("sustain", "stabs", "arp"),
        bass_programs={38: 3, 39: 3, 34: 1}, guitar_programs={27: 2, 28: 1, 30: 1},
        piano_programs={4: 2, 5: 2, 18: 1, 0: 1}, kits={24: 2, 25: 2, 16: 1},
        timing_ms=1.5, modes={"minor": 0.6, "major": 0.2, "dorian": 0.2}),
    "ballad": Style(
        "ballad", "4/4", (60, 86),
        {"light": _g(kick="x.........x.....", rim="....x.......x...", hat="x.x.x.x.x.x.x.x."),
         "main": _g(kick="x.......x.x.....", snare="....X.......X...", hat="x.x.x.x.x.x.x.x."),
         "heavy": _g(kick="x.......x.x.....", snare="....X.......X...",
                     ride="x.x.x.x.x.x.x.x.")},
        bass=("whole", "half", "root_fifth"), guitar=("sustain", "arp", "strum"),
        piano=("sustain", "ballad", "arp", "block"),
        bass_programs={33: 2, 35: 2, 32: 1}, guitar_programs={24: 2, 25: 2, 27: 2},
        piano_programs={0: 4, 1: 1, 4: 2, 5: 1, 19: 0.5}, kits={0: 2, 8: 1, 40: 1},
        sevenths=0.3, timing_ms=7.0),
    "hiphop": Style(
        "hiphop", "4/4", (80, 100),
        {"light": _g(kick="x......x..x.....", rim="....x.......x...", hat="x.x.x.x.x.x.x.x."),
         "main": _g(kick="x......x..x..x..", snare="....X.......X...", hat="x.x.x.x.x.x.x.x."),
         "heavy": _g(kick="x.x....x..x..x..", snare="....X.......X...", hat="xoxoxoxoxoxoxo.o",
                     open="..............x.")},
        bass=("whole", "kick"), guitar=("sustain", "riff"), piano=("sustain", "stabs", "arp"),
        bass_programs={38: 2, 39: 1, 33: 2}, guitar_programs={27: 2, 26: 1, 28: 1},
        piano_programs={4: 3, 5: 2, 0: 1}, kits={25: 2, 24: 1, 0: 1},
        sevenths=0.6, timing_ms=5.0, modes={"minor": 0.6, "dorian": 0.3, "major": 0.1}),
    "bossa": Style(
        "bossa", "4/4", (110, 150),
        {"light": _g(kick="x..xx..xx..xx..x", rim="x..x..x...x..x..", hat="x.x.x.x.x.x.x.x."),
         "main": _g(kick="x..xx..xx..xx..x", rim="x..x..x...x..x..", hat="xoxoxoxoxoxoxoxo",
                    shaker="x.x.x.x.x.x.x.x."),
         "heavy": _g(kick="x..xx..xx..xx..x", rim="x..x..x...x..x..", ride="x.x.x.x.x.x.x.x.")},
        bass=("whole", "bossa"), guitar=("sustain", "bossa"), piano=("sustain", "comp"),
        bass_programs={32: 2, 33: 2, 35: 1}, guitar_programs={24: 4, 26: 1},
        piano_programs={0: 2, 4: 2, 5: 1}, kits={40: 2, 0: 1, 8: 1},
        sevenths=0.9, timing_ms=5.0),
    "punk": Style(
        "punk", "4/4", (150, 180),
        {"light": _g(kick="x...x...x...x...", snare="....X.......X...", hat="x.x.x.x.x.x.x.x."),
         "main": _g(kick="x.x...x.x.x...x.", snare="....X.......X...", hat="x.x.x.x.x.x.x.x."),
         "heavy": _g(kick="x.x.x.x.x.x.x.x.", snare="....X.......X...",
                     ride="X.x.X.x.X.x.X.x.")},
        bass=("half", "eighths"), guitar=("power", "strum"), piano=("sustain", "block"),
        bass_programs={34: 3, 33: 1}, guitar_programs={30: 3, 29: 2},
        piano_programs={0: 1, 1: 1, 18: 1}, kits={0: 2, 16: 2, 8: 1},
        timing_ms=6.0, modes={"major": 0.5, "minor": 0.3, "mixolydian": 0.2}),
    "shuffle": Style(
        "shuffle", "4/4", (80, 140),
        {"light": _g(kick="x...x...", snare="..x...x.", hat="XxXxXxXx"),
         "main": _g(kick="x...x...", snare="..X...X.", hat="XxXxXxXx"),
         "heavy": _g(kick="x.x.x.x.", snare="..X...X.", ride="XxXxXxXx")},
        bass=("half", "walking", "boogie"), guitar=("sustain", "shuffle", "strum"),
        piano=("sustain", "comp", "block"),
        bass_programs={33: 2, 32: 1, 34: 1}, guitar_programs={27: 2, 29: 2, 26: 1},
        piano_programs={0: 2, 3: 1, 16: 2, 4: 1}, kits={0: 2, 8: 1},
        swing=1.0, sevenths=1.0, timing_ms=6.0, blues=0.6,
        modes={"major": 0.5, "mixolydian": 0.3, "minor": 0.2}),
    "jazz": Style(
        "jazz", "4/4", (100, 180),
        {"light": _g(ride="X.XxX.Xx", pedal="..x...x."),
         "main": _g(ride="X.XxX.Xx", pedal="..x...x.", kick="o...o...", snare="......o."),
         "heavy": _g(ride="X.XxX.Xx", pedal="..x...x.", kick="o.o.o.o.", snare="...o..o.")},
        bass=("half", "walking"), guitar=("sustain", "jazz"), piano=("sustain", "jazz"),
        bass_programs={32: 4, 33: 1, 35: 1}, guitar_programs={26: 4, 27: 1},
        piano_programs={0: 4, 4: 1, 16: 0.5}, kits={0: 2, 40: 2, 8: 1},
        swing=1.0, sevenths=1.0, timing_ms=8.0, blues=0.2,
        modes={"major": 0.55, "minor": 0.3, "dorian": 0.15}),
    "waltz": Style(
        "waltz", "3/4", (80, 180),
        {"light": _g(kick="x.....", rim="..x.x.", hat="x.x.x."),
         "main": _g(kick="x.....", snare="..x.x.", hat="X.x.x."),
         "heavy": _g(kick="x...x.", snare="..X.X.", ride="X.x.x.")},
        bass=("whole", "root_fifth", "quarters"), guitar=("sustain", "arp", "waltz"),
        piano=("sustain", "waltz", "arp"),
        bass_programs={32: 2, 33: 2, 35: 1}, guitar_programs={24: 2, 25: 2, 26: 1, 27: 1},
        piano_programs={0: 4, 1: 1, 4: 1, 20: 0.5}, kits={0: 2, 40: 1, 8: 1},
        swing=0.25, sevenths=0.3, timing_ms=6.0),
    "six8": Style(
        "six8", "6/8", (60, 100),
        {"light": _g(kick="x.....", rim="...x..", hat="Xxxxxx"),
         "main": _g(kick="x....x", snare="...X..", hat="XxxXxx"),
         "heavy": _g(kick="x.x...", snare="...X..", ride="XxxXxx")},
        bass=("whole", "dotted", "arp68"), guitar=("sustain", "arp68", "strum"),
        piano=("sustain", "arp68", "block"),
        bass_programs={33: 2, 35: 1, 32: 1, 34: 1}, guitar_programs={24: 2, 25: 2, 27: 2, 29: 1},
        piano_programs={0: 4, 4: 1, 5: 1, 16: 0.5}, kits={0: 2, 8: 1, 40: 1},
        sevenths=0.2, timing_ms=6.0),
}

#: How often each style is drawn (≈ 64 % straight 4/4, 13 % swing, 11 % 3/4, 12 % 6/8).
STYLE_WEIGHTS: dict[str, float] = {
    "rock": 0.13, "pop": 0.13, "funk": 0.07, "disco": 0.05, "dance": 0.05, "ballad": 0.08,
    "hiphop": 0.05, "bossa": 0.04, "punk": 0.04, "shuffle": 0.07, "jazz": 0.06,
    "waltz": 0.11, "six8": 0.12,
}
