"""Generate the performer patches: sideman.maxpat, sideman-help.maxpat and sideman.pd.

Run ``python max_patches/build_patches.py`` after changing this file and commit the output
with it. ``tests/test_max_patches.py`` and ``tests/test_pd_patch.py`` check that the saved
patches have the boxes and cords designed here, not their bytes: where a box sits is the
performer's, so a patch opened, rearranged and saved in Max or Pd stays valid (rebuilding
puts the boxes back where this file has them). Building the patches from code keeps every
box, cord and label consistent and the diff of a change readable.

The Max patch (Max 8.5 and later, no third-party externals) does the sample-exact audio
with MSP objects and leaves the protocol to ``sideman.js`` in a ``[js]`` object; the design
is explained in the patch's own comments and at the top of ``sideman.js``. The Pure Data
patch (vanilla, 0.52 and later) does everything with vanilla objects; see ``PD_DESIGN``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
RING = 1048576  # frames of every ring buffer; sideman.js and sideman.pd use the same number
STEMS = ("bass", "drums", "guitar", "piano")
#: The Max patch's buffer~ names start with "---": Max for Live replaces it with a number of
#: the device's own, so several copies run side by side (in plain Max it stays as it is).
#: sideman.js cannot see that number: the patch sends it the names at load (``buffers``).
MAX_BUF = "---sideman"


# =========================================================================================
# Max
# =========================================================================================
def max_io(text: str) -> tuple[int, int, list[str]]:
    """Inlets, outlets and outlet types Max gives a ``newobj`` box with this text (only the
    objects used here; tests/data/max_objects.json is the independent check)."""
    name, *args = text.split()
    n = len(args)
    sig = ["signal"]
    fixed: dict[str, tuple[int, int, list[str]]] = {
        "udpsend": (1, 0, []),
        "udpreceive": (1, 1, [""]),
        "loadbang": (1, 1, ["bang"]),
        "loadmess": (1, 1, [""]),
        "metro": (2, 1, ["bang"]),
        "prepend": (1, 1, [""]),
        "+": (2, 1, ["int"]),
        "print": (1, 0, []),
        "pcontrol": (1, 1, [""]),
        "transport": (2, 9, ["int", "int", "float", "float", "float", "", "int", "float", ""]),
        "dspstate~": (1, 4, ["int", "float", "int", "int"]),
        "buffer~": (1, 2, ["float", "bang"]),
        "poke~": (3, 0, []),
        "index~": (2, 1, sig),
        "count~": (2, 1, sig),
        "snapshot~": (2, 1, ["float"]),
        "*~": (2, 1, sig),
        "+~": (2, 1, sig),
        "-~": (2, 1, sig),
        "%~": (2, 1, sig),
    }
    if name in fixed:
        return fixed[name]
    if name == "route":
        return 2, n + 1, [""] * (n + 1)
    if name == "adc~":
        k = n or 2
        return 1, k, sig * k
    if name == "dac~":
        return n or 2, 0, []
    if name == "sfplay~":  # one signal outlet per channel, then the notification outlet
        return 2, int(args[0]) + 1, sig * int(args[0]) + ["bang"]
    if name == "selector~":
        return int(args[0]) + 1, 1, sig
    if name == "js":
        inlets, outlets = js_io(HERE / args[0])
        return inlets, outlets, [""] * outlets
    raise KeyError(f"no inlet/outlet rule for Max object {name!r}")


def js_io(script: Path) -> tuple[int, int]:
    """The ``inlets = N; outlets = M;`` a js script declares."""
    source = script.read_text()
    found = {key: int(m.group(1)) for key in ("inlets", "outlets")
             if (m := re.search(rf"^{key}\s*=\s*(\d+)\s*;", source, re.M))}
    return found.get("inlets", 1), found.get("outlets", 1)


UI_IO: dict[str, tuple[int, int, list[str]]] = {
    "message": (2, 1, [""]),
    "comment": (1, 0, []),
    "toggle": (1, 1, ["int"]),
    "number": (1, 2, ["", "bang"]),
    "flonum": (1, 2, ["", "bang"]),
    "textedit": (1, 4, ["", "int", "", ""]),
    "button": (1, 1, ["bang"]),
    "ezdac~": (2, 0, []),
    "panel": (1, 0, []),
    "meter~": (1, 1, ["float"]),
}


@dataclass
class MaxPatcher:
    """A Max patcher built box by box; ``name`` arguments become the boxes' ids."""

    rect: tuple[float, float, float, float]
    boxes: list[dict] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)

    def _add(self, name: str | None, box: dict) -> str:
        box_id = f"obj-{len(self.boxes) + 1}"
        if name is not None:
            if name in self.ids:
                raise ValueError(f"box name {name!r} used twice")
            self.ids[name] = box_id
        self.boxes.append({"box": {"id": box_id, **box}})
        return box_id

    def obj(self, text: str, x: float, y: float, w: float = 0, name: str | None = None) -> str:
        inlets, outlets, types = max_io(text)
        width = w or max(40.0, 7.0 * len(text) + 14.0)
        box = {"maxclass": "newobj", "text": text, "numinlets": inlets, "numoutlets": outlets,
               "outlettype": types, "patching_rect": [x, y, width, 22.0]}
        if text.startswith("js "):
            box["saved_object_attributes"] = {"filename": text.split()[1],
                                              "parameter_enable": 0}
        return self._add(name, box)

    def ui(self, maxclass: str, x: float, y: float, w: float = 50, h: float = 22,
           name: str | None = None, varname: str | None = None, **attrs: object) -> str:
        inlets, outlets, types = UI_IO[maxclass]
        box: dict = {"maxclass": maxclass, "numinlets": inlets, "numoutlets": outlets,
                     "outlettype": types, "patching_rect": [x, y, w, h]}
        if maxclass not in ("comment", "panel", "meter~"):
            box["parameter_enable"] = 0
        if varname is not None:
            box["varname"] = varname
        box.update(attrs)
        return self._add(name or varname, box)

    def comment(self, text: str, x: float, y: float, w: float = 200, lines: int = 1,
                **attrs: object) -> str:
        attrs.setdefault("fontsize", 12.0)
        return self.ui("comment", x, y, w, 6 + 14 * lines, text=text, linecount=lines, **attrs)

    def message(self, text: str, x: float, y: float, w: float = 0,
                varname: str | None = None, name: str | None = None, **attrs: object) -> str:
        return self.ui("message", x, y, w or max(30.0, 7.0 * len(text) + 14.0), 22,
                       name=name, varname=varname, text=text, **attrs)

    def connect(self, source: str, outlet: int, destination: str, inlet: int = 0) -> None:
        src, dst = self.ids.get(source, source), self.ids.get(destination, destination)
        self.lines.append({"patchline": {"source": [src, outlet], "destination": [dst, inlet]}})

    def to_json(self) -> dict:
        return {"patcher": {
            "fileversion": 1,
            "appversion": {"major": 8, "minor": 5, "revision": 0, "architecture": "x64",
                           "modernui": 1},
            "classnamespace": "box",
            "rect": list(self.rect),
            "bglocked": 0,
            "openinpresentation": int(any(b["box"].get("presentation") for b in self.boxes)),
            "default_fontsize": 12.0,
            "default_fontface": 0,
            "default_fontname": "Arial",
            "gridonopen": 1,
            "gridsize": [15.0, 15.0],
            "gridsnaponopen": 1,
            "objectsnaponopen": 1,
            "statusbarvisible": 2,
            "toolbarvisible": 1,
            "boxes": self.boxes,
            "lines": self.lines,
        }}


#: Every control of the main patch, by varname, with the line the help patch shows for it.
CONTROLS: dict[str, str] = {
    "audio": "audio: turns audio on and off (the sample clock only runs while audio is on).",
    "host": "host: the server's address; type it and press Return. 127.0.0.1 is this computer.",
    "port": "port: the server's UDP port (sideman serve --port, 7400 by default).",
    "replyport": "replyport: the UDP port this patch listens on for the server's answers "
                 "(7401); change it if another program uses it.",
    "connect": "connect: opens a session (turn audio on first). The status says when it runs.",
    "disconnect": "disconnect: closes the session.",
    "reset": "reset: the server forgets what it heard and generated; positions start again.",
    "r": "r: hop as a fraction of the model's window (0.25 = a step every quarter window). "
         "Smaller r: more frequent, shorter steps.",
    "w": "w: look-ahead in hops. 1 is the live setting; 2 or more gives the model more time "
         "but it must guess further ahead. The server refuses values with (w+2)*r > 1.",
    "stem_bass": "stem_bass: generate a bass part.",
    "stem_drums": "stem_drums: generate drums (on by default).",
    "stem_guitar": "stem_guitar: generate a guitar part.",
    "stem_piano": "stem_piano: generate a piano part. Several stems at once are fine.",
    "steps": "steps: sampling steps per hop (0 = the model's default; more is slower).",
    "variation": "variation: noise temperature, 0 ... 2 (1 = as trained).",
    "delay": "delay: output delay in ms. The generated parts play this much later than the "
             "input they go with; raise it when the status shows misses (network jitter).",
    "datagram": "datagram: largest UDP datagram the server sends (bytes). Lower it if chunks "
                "never arrive (some networks drop large datagrams).",
    "file": "file: input source, off = the live input (adc~ 1), on = the sound file (a "
            "stereo file is mixed down to (left + right) / 2; a mono file plays at half level).",
    "open": "open: choose a sound file for the file input.",
    "play": "play: starts (on) and stops (off) the sound file.",
    "input_gain": "input_gain: level of the input that is recorded and sent to the server.",
    "monitor": "monitor: level of the input in the output (0 if you hear your instrument "
               "already).",
    "gain_bass": "gain_bass: level of the generated bass.",
    "gain_drums": "gain_drums: level of the generated drums.",
    "gain_guitar": "gain_guitar: level of the generated guitar.",
    "gain_piano": "gain_piano: level of the generated piano.",
    "transport": "transport: starts and stops Max's transport; its tempo and bar position "
                 "are sent to the server (models with a beat grid use them).",
    "tempo": "tempo: the transport's tempo in BPM.",
    "connected": "connected: a light, on while a session runs and the server answers.",
    "latency": "latency: ms from the end of a hop's input to the last chunk of its output.",
    "slack": "slack: ms to spare between a step's last chunk and the moment it plays "
             "(negative = late).",
    "misses": "misses: steps whose output was not complete when it had to play.",
    "lost": "lost: chunks that never arrived before their time.",
    "info": "info: the latest message from the patch or the server.",
    "server": "server: the server's own status, every second: its worst recent slack, the "
              "time a step takes, the time sending it takes, its misses, the input it lacked.",
}


#: The live controls a performer maps to MIDI or automates (parameter_enable 1): Max name,
#: value type (0 float, 1 int), range, and the value the patch starts with.
MAX_PARAMETERS: dict[str, tuple[int, float, float, float]] = {
    "r": (0, 0.015625, 1.0, 0.25),
    "w": (1, -1, 14, 1),
    "steps": (1, 0, 64, 0),
    "variation": (0, 0.0, 2.0, 1.0),
    "delay": (1, 0, 10000, 0),
    **{f"stem_{stem}": (1, 0, 1, 1 if stem == "drums" else 0) for stem in STEMS},
    "input_gain": (0, 0.0, 4.0, 1.0),
    "monitor": (0, 0.0, 4.0, 0.0),
    **{f"gain_{stem}": (0, 0.0, 4.0, 1.0) for stem in STEMS},
}


def max_parameter(name: str) -> dict:
    """Box attributes of a live control: its range, and the parameter Max shows in the
    mapping and automation lists (sideman r, sideman gain_drums, ...)."""
    kind, lo, hi, initial = MAX_PARAMETERS[name]
    return {"parameter_enable": 1, "minimum": lo, "maximum": hi,
            "saved_attribute_attributes": {"valueof": {
                "parameter_longname": f"sideman {name}", "parameter_shortname": name,
                "parameter_type": kind, "parameter_mmin": lo, "parameter_mmax": hi,
                "parameter_initial_enable": 1, "parameter_initial": [initial]}}}


def max_presentation() -> dict[str, tuple[float, float, float, float]]:
    """The performer's view (presentation mode, where the patch opens): what to play with and
    what to read, in rows: connect, what to generate, input, levels, status. Keys are
    controls (varname) or the text of their label (a comment); the rest of the patch (the
    plumbing) stays in the patching view."""
    view: dict[str, tuple[float, float, float, float]] = {
        "title": (10, 5, 600, 28),
        # row 1: audio, where the server is, connect, the connection light
        "audio": (10, 40, 45, 45), "c:audio": (58, 53, 50, 20),
        "c:host": (115, 40, 40, 20), "host": (155, 40, 110, 22),
        "c:port": (275, 40, 40, 20), "port": (315, 40, 60, 22),
        "connect": (390, 40, 63, 22), "disconnect": (460, 40, 84, 22),
        "reset": (551, 40, 49, 22),
        "connected": (615, 40, 22, 22), "c:connected": (640, 40, 70, 20),
        # row 2: what to generate
        "c:r": (10, 95, 60, 20), "r": (10, 115, 60, 22),
        "c:w": (85, 95, 50, 20), "w": (85, 115, 50, 22),
        "c:steps": (150, 95, 50, 20), "steps": (150, 115, 50, 22),
        "c:variation": (215, 95, 70, 20), "variation": (215, 115, 60, 22),
        "c:delay (ms)": (300, 95, 80, 20), "delay": (300, 115, 60, 22),
        "c:stems": (400, 95, 60, 20),
        # row 3: the input
        "file": (10, 155, 22, 22), "c:file": (34, 155, 40, 20),
        "open": (80, 155, 42, 22),
        "play": (130, 155, 22, 22), "c:play": (154, 155, 40, 20),
        "c:input_gain": (205, 155, 80, 20), "input_gain": (285, 155, 50, 22),
        "c:monitor": (350, 155, 60, 20), "monitor": (410, 155, 50, 22),
        "level_in": (475, 160, 120, 13),
        # row 5: the status
        "c:latency ms": (10, 235, 80, 20), "latency": (10, 255, 80, 22),
        "c:slack ms": (100, 235, 80, 20), "slack": (100, 255, 80, 22),
        "c:misses": (190, 235, 80, 20), "misses": (190, 255, 80, 22),
        "c:lost": (280, 235, 80, 20), "lost": (280, 255, 80, 22),
        "info": (370, 255, 400, 22), "server": (10, 285, 760, 22),
    }
    for i, stem in enumerate(STEMS):
        view[f"stem_{stem}"] = (400 + 90 * i, 115, 22, 22)
        view[f"c:{stem}"] = (424 + 90 * i, 115, 60, 20)
        # row 4: the levels of the generated parts
        view[f"gain_{stem}"] = (10 + 180 * i, 195, 50, 22)
        view[f"c:gain_{stem}"] = (63 + 180 * i, 195, 90, 20)
        view[f"level_{stem}"] = (10 + 180 * i, 219, 140, 10)
    return view


def present(p: MaxPatcher) -> None:
    """Put the performer's controls and their labels into presentation mode."""
    view = max_presentation()
    found: dict[str, list[dict]] = {}
    for entry in p.boxes:
        box = entry["box"]
        if "varname" in box:
            found.setdefault(box["varname"], []).append(box)
        elif box["maxclass"] == "comment":
            key = "title" if box["text"].startswith("sideman: ") else f"c:{box['text']}"
            found.setdefault(key, []).append(box)
    for name in ("level_in", *(f"level_{stem}" for stem in STEMS)):
        found[name] = [p.boxes[int(p.ids[name].split("-")[1]) - 1]["box"]]
    for key, rect in view.items():
        if len(found.get(key, [])) != 1:
            raise ValueError(f"presentation: {key!r} names {len(found.get(key, []))} boxes")
        found[key][0]["presentation"] = 1
        found[key][0]["presentation_rect"] = list(map(float, rect))


def build_max() -> tuple[dict, dict]:
    """The main patch and its help patch."""
    p = MaxPatcher(rect=(40.0, 60.0, 1560.0, 1100.0))
    c = p.comment
    c("sideman: an AI accompanist that listens to you and plays along", 20, 10, 600,
      fontsize=18.0)
    c("Start the server (sideman serve), turn audio on, press connect, play. "
      "Every control is explained in sideman-help.maxpat.", 20, 38, 760)

    # -- connection ---------------------------------------------------------------------
    y = 75
    c("1. connection", 20, y, 200, fontface=1)
    p.ui("ezdac~", 20, y + 25, 45, 45, varname="audio")
    c("audio", 70, y + 38, 60)
    c("host", 140, y + 25, 40)
    p.ui("textedit", 180, y + 25, 110, 22, varname="host", text="127.0.0.1", keymode=1,
         lines=1)
    p.obj("route text", 180, y + 55, name="host_route")
    p.obj("prepend host", 180, y + 80, name="pre_host")
    c("port", 300, y + 25, 40)
    p.ui("number", 340, y + 25, 60, varname="port", minimum=1, maximum=65535)
    p.obj("loadmess 7400", 410, y + 25, name="lm_port")
    p.obj("prepend port", 340, y + 80, name="pre_port")
    c("replyport", 540, y + 25, 70)
    p.ui("number", 610, y + 25, 60, varname="replyport", minimum=1, maximum=65535)
    p.obj("loadmess 7401", 680, y + 25, name="lm_replyport")
    p.obj("prepend replyport", 610, y + 80, name="pre_replyport")
    p.message("connect", 820, y + 25, varname="connect")
    p.message("disconnect", 890, y + 25, varname="disconnect")
    p.message("reset", 990, y + 25, varname="reset")
    p.connect("host", 0, "host_route")
    p.connect("host_route", 0, "pre_host")
    p.connect("lm_port", 0, "port")
    p.connect("port", 0, "pre_port")
    p.connect("lm_replyport", 0, "replyport")
    p.connect("replyport", 0, "pre_replyport")

    # -- generation settings ------------------------------------------------------------
    y = 195
    c("2. what to generate", 20, y, 200, fontface=1)
    x = 20
    for label, kind, default, width in (("r", "flonum", "0.25", 60), ("w", "number", "1", 50),
                                        ("steps", "number", "0", 50),
                                        ("variation", "flonum", "1.", 60),
                                        ("delay", "number", "0", 60),
                                        ("datagram", "number", "4096", 70)):
        c(label + (" (ms)" if label == "delay" else ""), x, y + 25, width + 40)
        live = max_parameter(label) if label in MAX_PARAMETERS else {}
        p.ui(kind, x, y + 45, width, varname=label, **live)
        p.obj(f"loadmess {default}", x, y + 72, name=f"lm_{label}")
        p.obj(f"prepend {label}", x, y + 97, name=f"pre_{label}")
        p.connect(f"lm_{label}", 0, label)
        p.connect(label, 0, f"pre_{label}")
        x += max(width + 60, 150)
    c("stems", 920, y + 25, 60)
    for i, stem in enumerate(STEMS):
        sx = 920 + 155 * i
        p.ui("toggle", sx, y + 45, 22, 22, varname=f"stem_{stem}",
             **max_parameter(f"stem_{stem}"))
        c(stem, sx + 24, y + 45, 50)
        p.obj(f"prepend stem {stem}", sx, y + 97, name=f"pre_stem_{stem}")
        p.connect(f"stem_{stem}", 0, f"pre_stem_{stem}")
    p.obj("loadmess 1", 1060, y + 72, name="lm_drums")
    p.connect("lm_drums", 0, "stem_drums")

    # -- the script ---------------------------------------------------------------------
    y = 345
    c("3. the protocol: sideman.js (handshake, audio and marks out, chunks into the "
      "buffers, status)", 20, y, 700, fontface=1)
    p.obj("js sideman.js", 20, y + 75, 300, name="js")
    senders = ["pre_host", "pre_port", "pre_replyport", "connect", "disconnect", "reset"]
    senders += [f"pre_{k}" for k in ("r", "w", "steps", "variation", "delay", "datagram")]
    senders += [f"pre_stem_{s}" for s in STEMS]
    for name in senders:
        p.connect(name, 0, "js")
    p.obj("udpsend 127.0.0.1 7400", 20, y + 130, name="udpsend")
    p.obj("udpreceive 7401", 240, y + 30, name="udpreceive")
    p.connect("js", 0, "udpsend")
    p.connect("js", 1, "udpreceive")
    p.connect("udpreceive", 0, "js")
    c("udpsend has no outlet and sends from a port of its own, so the hello names "
      "replyport and the server answers there (PROTOCOL.md, Reply port).", 380, y + 30, 520,
      lines=2)
    p.obj("dspstate~", 760, y + 75, name="dspstate")
    p.obj("prepend samplerate", 760, y + 100, name="pre_sr")
    p.connect("dspstate", 1, "pre_sr")
    p.connect("pre_sr", 0, "js")
    # dspstate~ reports by itself only when audio is switched on or off: a patch opened with
    # audio already running asks it once at load, so the script knows the sample rate.
    p.obj("loadbang", 680, y + 75, name="lb_sr")
    p.connect("lb_sr", 0, "dspstate")

    # transport: banged four times a second; its outlets report right to left, bars last.
    p.ui("toggle", 950, y + 30, 22, 22, varname="transport")
    c("transport", 975, y + 30, 80)
    c("tempo", 1060, y + 30, 50)
    p.ui("flonum", 1110, y + 30, 60, varname="tempo")
    p.obj("prepend tempo", 1110, y + 55, name="pre_tempo")
    p.obj("loadmess 1", 1180, y + 5, name="lm_metro")
    p.obj("metro 250", 1180, y + 30, name="metro")
    p.obj("transport", 950, y + 80, 320, name="transport_obj")
    p.connect("transport", 0, "transport_obj")
    p.connect("tempo", 0, "pre_tempo")
    p.connect("pre_tempo", 0, "transport_obj")
    p.connect("lm_metro", 0, "metro")
    p.connect("metro", 0, "transport_obj")
    for outlet, key in ((0, "bars"), (1, "beats"), (2, "units"), (3, "resolution"),
                        (4, "tempo"), (5, "timesig"), (6, "state")):
        p.obj(f"prepend tr_{key}", 950 + 10 * outlet, y + 110 + 25 * outlet, name=f"tr_{key}")
        p.connect("transport_obj", outlet, f"tr_{key}")
        p.connect(f"tr_{key}", 0, "js")

    # status
    y = 540
    c("4. status", 20, y, 200, fontface=1)
    p.obj("route connected latency slack misses lost info server", 20, y + 25, 420,
          name="route")
    p.connect("js", 2, "route")
    # What the performer reads at a glance: displays, not number boxes (ignoreclick: nothing
    # to edit by mistake). connected is a light: a toggle that is on while a session runs.
    p.ui("toggle", 20, y + 80, 22, 22, varname="connected", ignoreclick=1)
    c("connected", 45, y + 80, 70)
    p.connect("route", 0, "connected")
    for i, key in enumerate(("latency", "slack", "misses", "lost"), start=1):
        sx = 20 + 100 * i
        p.obj("prepend set", sx, y + 52, name=f"pre_{key}_show")
        p.message("-", sx, y + 80, 80, varname=key, ignoreclick=1)
        c(key + (" ms" if key in ("latency", "slack") else ""), sx, y + 105, 80)
        p.connect("route", i, f"pre_{key}_show")
        p.connect(f"pre_{key}_show", 0, key)
    p.obj("prepend set", 520, y + 52, name="pre_set")
    p.message("not connected", 520, y + 80, 400, varname="info", ignoreclick=1)
    p.connect("route", 5, "pre_set")
    p.connect("pre_set", 0, "info")
    # the server's own status reply, one line (sideman.js, onStatus)
    p.obj("prepend set", 620, y + 52, name="pre_server")
    p.message("server: -", 520, y + 105, 420, varname="server", ignoreclick=1)
    p.connect("route", 6, "pre_server")
    p.connect("pre_server", 0, "server")

    # -- audio --------------------------------------------------------------------------
    y = 680
    c("5. audio: the sample clock [count~] drives everything, so input and output stay "
      "sample-aligned", 20, y - 10, 900, fontface=1)
    c("Input: count~ gives every sample its absolute position; poke~ writes the input at "
      "slot (count % 1048576) of buffer~ ---sideman.in, where sideman.js reads it (--- is "
      "the Max for Live device's number: copies do not share buffers). Output: each stem's "
      "buffer~ has 3 channels written by sideman.js: 1 tail (direct samples), 2 head "
      "(the first xfade samples of a step), 3 gain (crossfade gain, 0 elsewhere). index~ "
      "reads them at slot ((count + 1048576 - delay) % 1048576) and the stem plays "
      "tail + gain * (head - tail): the crossfade of PROTOCOL.md, computed once, whatever "
      "order the chunks came in. The offset comes from sideman.js (outlet 4).",
      20, y + 10, 1200, lines=3)
    y = 790
    p.obj("adc~ 1", 20, y, name="adc")
    # a stereo file is mixed down: (left + right) / 2 (a mono file comes out of the left
    # outlet only, at half level: raise input_gain)
    p.obj("sfplay~ 2", 90, y, name="sfplay")
    p.obj("+~", 140, y + 30, name="file_sum")
    p.obj("*~ 0.5", 190, y + 30, name="file_mix")
    p.message("open", 90, y - 30, varname="open")
    p.ui("toggle", 140, y - 30, 22, 22, varname="play")
    c("play", 164, y - 30, 40)
    p.ui("toggle", 210, y - 30, 22, 22, varname="file")
    c("file", 234, y - 30, 40)
    p.obj("+ 1", 210, y, name="plus1")
    p.obj("selector~ 2 1", 20, y + 30, name="selector")
    p.connect("open", 0, "sfplay")
    p.connect("play", 0, "sfplay")
    p.connect("file", 0, "plus1")
    p.connect("plus1", 0, "selector", 0)
    p.connect("adc", 0, "selector", 1)
    p.connect("sfplay", 0, "file_sum", 0)
    p.connect("sfplay", 1, "file_sum", 1)
    p.connect("file_sum", 0, "file_mix")
    p.connect("file_mix", 0, "selector", 2)
    p.obj("*~ 1.", 20, y + 60, name="in_gain")
    p.ui("flonum", 70, y + 60, 50, varname="input_gain", **max_parameter("input_gain"))
    c("input_gain", 125, y + 60, 80)
    p.obj("loadmess 1.", 125, y + 85, name="lm_input_gain")
    p.connect("selector", 0, "in_gain")
    p.ui("meter~", 215, 852, 80, 13, name="level_in")  # the level sent to the server
    p.connect("in_gain", 0, "level_in")
    p.connect("lm_input_gain", 0, "input_gain")
    p.connect("input_gain", 0, "in_gain", 1)
    # autoreset 0: Max rebuilds the audio chain whenever an object is added or audio is
    # switched; with autoreset the count (every position of the session) would start again.
    p.obj("count~ 0 0 1 0", 280, y, name="count")
    p.obj(f"%~ {RING}", 280, y + 30, name="in_slot")
    p.obj(f"poke~ {MAX_BUF}.in", 20, y + 120, name="poke")
    p.connect("count", 0, "in_slot")
    p.connect("in_gain", 0, "poke", 0)
    p.connect("in_slot", 0, "poke", 1)
    p.obj("snapshot~ 5", 420, y, name="snapshot")
    p.obj("prepend tick", 420, y + 30, name="pre_tick")
    p.connect("count", 0, "snapshot")
    p.connect("snapshot", 0, "pre_tick")
    p.connect("pre_tick", 0, "js")
    p.obj(f"+~ {RING}", 540, y, name="play_offset")
    p.obj(f"%~ {RING}", 540, y + 30, name="play_slot")
    p.connect("count", 0, "play_offset")
    p.connect("js", 3, "play_offset", 1)
    p.connect("play_offset", 0, "play_slot")
    p.obj("*~ 0.", 20, y + 150, name="monitor_gain")
    p.ui("flonum", 70, y + 150, 50, varname="monitor", **max_parameter("monitor"))
    c("monitor", 125, y + 150, 60)
    p.connect("in_gain", 0, "monitor_gain")
    p.connect("monitor", 0, "monitor_gain", 1)
    p.obj("dac~ 1 2", 20, y + 230, name="dac")
    p.connect("monitor_gain", 0, "dac", 0)
    p.connect("monitor_gain", 0, "dac", 1)

    # buffers, sized in samples once the patch has loaded
    p.obj("loadbang", 1230, y - 30, name="loadbang")
    p.message(f"sizeinsamps {RING} 1", 1230, y, name="size_in")
    p.obj(f"buffer~ {MAX_BUF}.in", 1230, y + 30, name="buf_in")
    p.connect("loadbang", 0, "size_in")
    p.connect("size_in", 0, "buf_in")
    # the buffer names as Max for Live resolved them, for sideman.js (bound at connect)
    p.message(" ".join(["buffers", f"{MAX_BUF}.in", *(f"{MAX_BUF}.{s}" for s in STEMS)]),
              20, 505, name="buffer_names")
    p.connect("lb_sr", 0, "buffer_names")
    p.connect("buffer_names", 0, "js")
    p.message(f"sizeinsamps {RING} 3", 1230, y + 60, name="size_stems")
    p.connect("loadbang", 0, "size_stems")

    for i, stem in enumerate(STEMS):
        sx = 330 + 220 * i
        sy = y + 65
        for ch in (1, 2, 3):
            p.obj(f"index~ {MAX_BUF}.{stem} {ch}", sx, sy + 25 * (ch - 1), 150,
                  name=f"idx_{stem}_{ch}")
            p.connect("play_slot", 0, f"idx_{stem}_{ch}")
        p.obj("-~", sx, sy + 80, name=f"minus_{stem}")      # head - tail
        p.obj("*~", sx, sy + 105, name=f"times_{stem}")     # gain * (head - tail)
        p.obj("+~", sx, sy + 130, name=f"plus_{stem}")      # tail + gain * (head - tail)
        p.obj("*~ 1.", sx, sy + 160, name=f"gain_{stem}_sig")
        p.ui("flonum", sx + 50, sy + 160, 50, varname=f"gain_{stem}",
             **max_parameter(f"gain_{stem}"))
        c(f"gain_{stem}", sx + 105, sy + 160, 90)
        p.obj("loadmess 1.", sx + 105, sy + 185, name=f"lm_gain_{stem}")
        p.connect(f"idx_{stem}_2", 0, f"minus_{stem}", 0)
        p.connect(f"idx_{stem}_1", 0, f"minus_{stem}", 1)
        p.connect(f"minus_{stem}", 0, f"times_{stem}", 0)
        p.connect(f"idx_{stem}_3", 0, f"times_{stem}", 1)
        p.connect(f"times_{stem}", 0, f"plus_{stem}", 0)
        p.connect(f"idx_{stem}_1", 0, f"plus_{stem}", 1)
        p.connect(f"plus_{stem}", 0, f"gain_{stem}_sig")
        p.connect(f"lm_gain_{stem}", 0, f"gain_{stem}")
        p.connect(f"gain_{stem}", 0, f"gain_{stem}_sig", 1)
        p.ui("meter~", sx, sy + 190, 80, 13, name=f"level_{stem}")
        p.connect(f"gain_{stem}_sig", 0, f"level_{stem}")
        p.connect(f"gain_{stem}_sig", 0, "dac", 0)
        p.connect(f"gain_{stem}_sig", 0, "dac", 1)
        p.obj(f"buffer~ {MAX_BUF}.{stem}", 1230, y + 90 + 25 * i, name=f"buf_{stem}")
        p.connect("size_stems", 0, f"buf_{stem}")

    present(p)
    main = p.to_json()
    varnames = {b["box"]["varname"] for b in p.boxes if "varname" in b["box"]}
    if varnames != set(CONTROLS):
        raise ValueError(f"controls without help text: {sorted(varnames - set(CONTROLS))}; "
                         f"help text without control: {sorted(set(CONTROLS) - varnames)}")
    return main, build_max_help()


def build_max_help() -> dict:
    h = MaxPatcher(rect=(60.0, 80.0, 900.0, 1000.0))
    h.comment("sideman: getting started", 20, 10, 600, fontsize=18.0)
    steps = [
        "1. Start the server in a terminal: sideman serve (or sideman serve --model clicktrack "
        "to test without a model). It listens on 127.0.0.1:7400.",
        "2. Open sideman.maxpat (click the message below) and turn audio on.",
        "3. Set host and port if the server runs on another computer, choose stems, r and w.",
        "4. Press connect. The connected light comes on and the status line names the model.",
        "5. Play. The generated parts come back a hop later, in time with you; raise delay if "
        "the status counts misses.",
    ]
    for i, text in enumerate(steps):
        h.comment(text, 20, 45 + 34 * i, 860, lines=2)
    h.message("load sideman.maxpat", 20, 220, name="open_main")
    h.obj("pcontrol", 20, 250, name="pcontrol")
    h.connect("open_main", 0, "pcontrol")
    h.comment("The controls of sideman.maxpat:", 20, 285, 400, fontface=1)
    y = 310
    for text in CONTROLS.values():
        lines = -(-len(text) // 115)
        h.comment(text, 20, y, 860, lines=lines)
        y += 8 + 14 * lines
    return h.to_json()


# =========================================================================================
# Pure Data
# =========================================================================================
PD_DESIGN = """\
sideman.pd (Pure Data vanilla 0.52 or later: oscformat, oscparse, netsend -u -b, arrays; Pd
0.51 reads at most 4096 bytes of a datagram, so there set datagram to 4096). Connect first
disconnects netsend, so a new host or port (and every automatic reconnect) takes effect. The
sample clock is Pd's DSP tick: [bang~] fires once after every 64-sample block, so the
message domain knows exactly which samples have been captured and played. Everything runs on
one ring counter smcring = (64 * blocks) mod 1048576. Input: [tabwrite~ sideman-in] records
the input into a 1048576-sample ring, restarted at slot 0 each time the counter wraps. Each
stem has three rings written by the [pd writer] subpatch: tail (direct samples), head (the
first xfade samples of a step's output) and gain (the crossfade gain of PROTOCOL.md, 0
elsewhere). [tabread~] plays tail + gain * (head - tail) at slot (smcring - delay) mod
1048576 (the block's base slot from [sig~] plus a 0..63 ramp; the output delay is rounded to
whole 64-sample blocks), so input and output stay sample-aligned and the crossfade is
computed exactly once whatever order the chunks come in. Position 0 of a session is ring
slot smorigin; positions count whole blocks in smpos and go out with type i. Pd's numbers
are 32-bit floats: exact up to 2^24, and Pd 0.53's [expr] is off by a few units from about
2^20, so positions and slots are computed with [+] [-] [mod] [min] [max] objects only, and
positions go modulo 2^23 both ways (the session's wrap setting, PROTOCOL.md): when smpos
reaches 2^23 the patch subtracts 2^23 from the positions it holds and adds it to smorigin,
and unwraps chunk positions against smpos, so a performance runs for hours without a reset.
Audio goes out every 256 samples, a mark every 1024 samples. Replies come back to the
sending socket (netsend's second outlet): no reply port.
"""

PD_L = RING


def pd_escape(text: str) -> str:
    """Pd file syntax: dollars, commas and semicolons are escaped (those already escaped in
    the text, written ``\\,`` and ``\\;``, are left as they are)."""
    text = re.sub(r"(?<!\\)\$", r"\\$", text)
    return re.sub(r"(?<!\\)([,;])", r" \\\1", text)


@dataclass
class PdCanvas:
    """One Pd canvas; objects are referred to by name when connecting."""

    name: str | None = None
    rect: tuple[int, int, int, int] = (0, 50, 1000, 720)
    items: list[str] = field(default_factory=list)
    names: dict[str, int] = field(default_factory=dict)
    conns: list[tuple[str | int, int, str | int, int]] = field(default_factory=list)
    #: graph on parent: the area (x, y, width, height) a parent patch shows of this canvas
    gop: tuple[int, int, int, int] | None = None
    _auto: int = 0

    def _add(self, line: str, name: str | None) -> str:
        index = len(self.items)
        self.items.append(line)
        if name is None:
            self._auto += 1
            name = f"_{self._auto}"
        if name in self.names:
            raise ValueError(f"Pd object name {name!r} used twice in {self.name}")
        self.names[name] = index
        return name

    def obj(self, x: int, y: int, text: str, name: str | None = None) -> str:
        return self._add(f"#X obj {x} {y} {pd_escape(text)};", name)

    def msg(self, x: int, y: int, text: str, name: str | None = None) -> str:
        return self._add(f"#X msg {x} {y} {pd_escape(text)};", name)

    def text(self, x: int, y: int, text: str, width: int = 0) -> str:
        suffix = f" \\, f {width}" if width else ""
        return self._add(f"#X text {x} {y} {pd_escape(text)}{suffix};", None)

    def floatatom(self, x: int, y: int, width: int, receive: str, send: str,
                  name: str | None = None) -> str:
        """A number box; a live control (MAX_PARAMETERS, Pd spelling) gets its range."""
        key = send.removeprefix("sideman-").replace("-", "_")
        lo, hi = MAX_PARAMETERS[key][1:3] if key in MAX_PARAMETERS else (0, 0)
        return self._add(f"#X floatatom {x} {y} {width} {lo:g} {hi:g} 0 - {receive} {send} 0;",
                         name)

    def symbolatom(self, x: int, y: int, width: int, receive: str, send: str,
                   name: str | None = None) -> str:
        return self._add(f"#X symbolatom {x} {y} {width} 0 0 0 - {receive} {send} 0;", name)

    def toggle(self, x: int, y: int, send: str, receive: str, label: str = "empty",
               name: str | None = None) -> str:
        return self._add(f"#X obj {x} {y} tgl 17 0 {send} {receive} {label} 20 8 0 12 "
                         f"#fcfcfc #000000 #000000 0 1;", name)

    def bang(self, x: int, y: int, send: str, label: str, name: str | None = None) -> str:
        return self._add(f"#X obj {x} {y} bng 19 250 50 0 {send} empty {label} 24 9 0 12 "
                         f"#fcfcfc #000000 #000000;", name)

    def vu(self, x: int, y: int, receive: str, label: str) -> str:
        """A VU meter, 80 pixels high, fed dB below full scale."""
        return self._add(f"#X obj {x} {y} vu 15 80 {receive} {label} -1 -8 0 12 #404040 "
                         f"#000000 0 0;", None)

    def sub(self, x: int, y: int, name: str) -> PdCanvas:
        child = PdCanvas(name=name, rect=(40, 80, 1100, 760))
        self._add(child, name)  # type: ignore[arg-type]
        self.items[-1] = (child, x, y)  # type: ignore[call-overload]
        return child

    def connect(self, a: str, outlet: int, b: str, inlet: int = 0) -> None:
        self.conns.append((a, outlet, b, inlet))

    def lines(self, top: bool = False) -> list[str]:
        x, y, w, h = self.rect
        out = [f"#N canvas {x} {y} {w} {h} 12;" if top else
               f"#N canvas {x} {y} {w} {h} {self.name} 0;"]
        for item in self.items:
            if isinstance(item, tuple):
                child, cx, cy = item
                out += child.lines()
                out.append(f"#X restore {cx} {cy} pd {child.name};")
            else:
                out.append(item)
        for a, outlet, b, inlet in self.conns:
            out.append(f"#X connect {self.names[a]} {outlet} {self.names[b]} {inlet};")
        if self.gop is not None:
            gx, gy, gw, gh = self.gop
            out.append(f"#X coords 0 -1 1 1 {gw} {gh} 2 {gx} {gy};")  # 2: GOP, name hidden
        return out


def pd_value_chain(c: PdCanvas, x: int, y: int, expr: str, value: str, name: str) -> str:
    """[expr ...] -> [t f f] -> [v value]: bang ``name`` to compute and store; the value
    also comes out of ``name_t`` once stored ([value] itself says nothing when set)."""
    c.obj(x, y, f"expr {expr}", name)
    c.obj(x, y + 25, "t f f", f"{name}_t")
    c.obj(x + 60, y + 50, f"v {value}", f"{name}_store")
    c.connect(name, 0, f"{name}_t")
    c.connect(f"{name}_t", 1, f"{name}_store")
    return name


def build_pd() -> str:
    # Graph on parent: opened as an abstraction ([sideman] in a set), the parent shows the
    # controls and the connection light of sections 1-4 (Pd draws only its GUI objects there).
    top = PdCanvas(rect=(30, 40, 1060, 760), gop=(10, 85, 1000, 330))
    t = top.text
    t(20, 10, "sideman: an AI accompanist that listens to you and plays along (Pure Data "
              "vanilla). Start sideman serve \\, turn DSP on \\, press connect \\, play.", 110)
    t(20, 45, "Every control is a number/symbol box or toggle sending to sideman-<name>: a "
              "test or another patch can send the same messages. See README \\, For "
              "performers.", 110)
    # -- controls -----------------------------------------------------------------------
    y = 90
    t(20, y, "1. connection")
    top.toggle(20, y + 25, "sideman-dsp", "sideman-dsp-set", "DSP", "dsp")
    t(130, y + 25, "host")
    top.symbolatom(170, y + 25, 14, "sideman-host-set", "sideman-host")
    t(300, y + 25, "port")
    top.floatatom(340, y + 25, 6, "sideman-port-set", "sideman-port")
    top.bang(420, y + 25, "sideman-connect", "connect")
    top.bang(520, y + 25, "sideman-disconnect", "disconnect")
    top.bang(640, y + 25, "sideman-reset", "reset")
    y = 160
    t(20, y, "2. what to generate")
    x = 20
    for key, width in (("r", 5), ("w", 3), ("steps", 3), ("variation", 4), ("delay", 5),
                       ("datagram", 6)):
        t(x, y + 25, key + (" ms" if key == "delay" else ""))
        top.floatatom(x, y + 45, width, f"sideman-{key}-set", f"sideman-{key}")
        x += 95
    for i, stem in enumerate(STEMS):
        top.toggle(600 + 90 * i, y + 45, f"sideman-stem-{stem}", f"sideman-stem-{stem}-set",
                   stem)
    y = 240
    t(20, y, "3. input and levels")
    top.toggle(20, y + 25, "sideman-mic", "sideman-mic-set", "mic")
    top.toggle(90, y + 25, "sideman-file", "sideman-file-set", "file")
    top.bang(160, y + 25, "sideman-open", "open")
    t(240, y + 25, "input")
    top.floatatom(285, y + 25, 4, "sideman-input-gain-set", "sideman-input-gain")
    t(340, y + 25, "monitor")
    top.floatatom(400, y + 25, 4, "sideman-monitor-set", "sideman-monitor")
    for i, stem in enumerate(STEMS):
        t(460 + 110 * i, y + 25, stem)
        top.floatatom(510 + 110 * i, y + 25, 4, f"sideman-gain-{stem}-set",
                      f"sideman-gain-{stem}")
    top.toggle(20, y + 55, "sideman-rec", "sideman-rec-set", "record")
    top.symbolatom(110, y + 55, 24, "sideman-rec-file-set", "sideman-rec-file")
    t(330, y + 55, "tempo")
    top.floatatom(380, y + 55, 5, "sideman-tempo-set", "sideman-tempo")
    t(440, y + 55, "beats/bar")
    top.floatatom(515, y + 55, 3, "sideman-bpb-set", "sideman-bpb")
    top.bang(560, y + 55, "sideman-downbeat", "downbeat")
    # levels: the input as sent and each generated stem
    for i, (key, label) in enumerate((("in", "in"), *((stem, stem[0]) for stem in STEMS))):
        top.vu(905 + 20 * i, 255, f"sideman-level-{key}", label)
    y = 340
    t(20, y, "4. status")
    # Displays, not number boxes: connected is a light (a toggle the session sets), the
    # numbers are message boxes set from sideman-show-<key> (nothing to edit by mistake).
    t(20, y + 25, "connected")
    top.toggle(20, y + 45, "empty", "sideman-show-connected", name="show_connected")
    x = 130
    for key in ("latency", "slack", "misses", "lost"):
        t(x, y + 25, key + (" ms" if key in ("latency", "slack") else ""))
        top.msg(x, y + 45, "-", f"show_{key}")
        cx = 300 + 130 * (x - 130) // 110
        top.obj(cx, y + 80, f"r sideman-show-{key}", f"show_{key}_r")
        top.obj(cx, y + 105, "list prepend set", f"show_{key}_set")
        top.obj(cx, y + 130, "list trim", f"show_{key}_trim")
        top.connect(f"show_{key}_r", 0, f"show_{key}_set")
        top.connect(f"show_{key}_set", 0, f"show_{key}_trim")
        top.connect(f"show_{key}_trim", 0, f"show_{key}")
        x += 110
    top.obj(20, y + 80, "r sideman-info", "info_r")
    top.obj(150, y + 80, "print sideman", "info_print")
    top.obj(20, y + 105, "list prepend set", "info_set")
    top.obj(20, y + 130, "list trim", "info_trim")
    top.msg(20, y + 155, "not connected", "info_msg")
    top.connect("info_r", 0, "info_print")
    top.connect("info_r", 0, "info_set")
    top.connect("info_set", 0, "info_trim")
    top.connect("info_trim", 0, "info_msg")
    t(20, 540, PD_DESIGN.replace("\n", " "), 120)

    _pd_init(top.sub(20, 500, "init"))
    _pd_net(top.sub(100, 500, "net"))
    _pd_session(top.sub(170, 500, "session"))
    _pd_clock(top.sub(270, 500, "clock"))
    _pd_writer(top.sub(350, 500, "writer"))
    _pd_ringcopy(top.sub(430, 500, "ringcopy"))
    _pd_audio(top.sub(530, 500, "audio"))
    _pd_transport(top.sub(610, 500, "transport"))
    return "\n".join(top.lines(top=True)) + "\n"


PD_DEFAULTS = {
    "host": "symbol 127.0.0.1", "port": "7400", "r": "0.25", "w": "1", "steps": "0",
    "variation": "1", "delay": "0", "datagram": "8192", "stem-drums": "1", "mic": "1",
    "file": "0", "input-gain": "1", "monitor": "0", "gain-bass": "1", "gain-drums": "1",
    "gain-guitar": "1", "gain-piano": "1", "rec": "0", "rec-file": "symbol sideman-take.wav",
    "tempo": "0", "bpb": "4",
}


#: The patch's state, one [value] each (expr reads them by name): session and model,
#: clock and positions, the chunk being written, settings, counters.
PD_VALUES = (
    "smphase smsession smsr smcr smmr smhopl smwinf smrr smww smd smfirst smtries smnonce "
    "smcring smorigin smpos smsent smlo "
    "smn smstep smstart smxf smcpos smfin smcount smindex smstemi sma smb smsplit "
    "rcdp rcn rcso "
    "smcfgr smcfgw smcfgsteps smcfgvar smcfgdg smcfgdelay smfile smrec smtempo smbpb "
    "smbeatpos smmisses smlost smstartreq smfinslot rcslot rcroom rcfirst rcrest rcbon "
    "smcend smblim smh smtn smtoff smhn smhoff smfinidx smfinstem smcfgwrap smwrap smwraph"
    ).split()
#: Positions wrap modulo 2^PD_WRAP both ways (PROTOCOL.md, "Positions", the wrap setting):
#: the patch's count stays below 2^23 and a chunk position unwrapped against it below
#: 1.5 * 2^23, so every position is exact in Pd's float32 numbers.
PD_WRAP = 23


def _pd_init(c: PdCanvas) -> None:
    """Arrays, the state values, defaults, and the 0..63 ramp of the playback index."""
    for i, value in enumerate(PD_VALUES):
        c.obj(20 + 110 * (i % 9), 760 + 25 * (i // 9), f"v {value}")
    c.obj(20, 20, f"array define sideman-in {PD_L}")
    for i, stem in enumerate(STEMS):
        for j, part in enumerate(("tail", "head", "gain")):
            c.obj(20 + 260 * j, 50 + 25 * i, f"array define sideman-{stem}-{part} {PD_L}")
    c.obj(20, 160, "array define sideman-scratch 16384")
    c.obj(300, 160, "array define sideman-zeros 8192")
    c.obj(580, 160, "array define sideman-ramp 64")
    c.obj(20, 185, "array define sideman-file 10")
    c.obj(300, 232, "array define sideman-file-r 10")
    c.obj(300, 185, "array define smfintab 65536")
    c.obj(580, 185, "array define smstemflag 4")
    c.obj(20, 210, "array define smcur 4")
    c.obj(300, 210, "array define smgot 4")
    c.obj(580, 210, "array define smcnt 4")
    c.obj(20, 250, "loadbang", "lb")
    c.obj(20, 275, "t b b b", "lb_t")
    ramp = " ".join(str(i) for i in range(64))
    c.msg(150, 300, f"; sideman-ramp 0 {ramp}; sideman-inrec start 0", "ramp")
    defaults = "; ".join(f"sideman-{k}-set {v}" for k, v in PD_DEFAULTS.items())
    c.msg(20, 330, "; " + defaults + f"; sideman-wrap {PD_WRAP}", "defaults")
    # sideman-wrap b (a test may choose a smaller b): positions modulo 2^b
    c.obj(700, 250, "r sideman-wrap", "wrap_r")
    c.obj(700, 275, "t f f f", "wrap_t")
    c.obj(700, 300, "expr pow(2 \\, $f1) \\; pow(2 \\, $f1 - 1)", "wrap_e")
    c.obj(700, 325, "v smwrap", "wrap_m")
    c.obj(800, 325, "v smwraph", "wrap_h")
    c.obj(900, 300, "v smcfgwrap", "wrap_v")
    c.connect("wrap_r", 0, "wrap_t")
    c.connect("wrap_t", 2, "wrap_v")
    c.connect("wrap_t", 1, "wrap_e")
    c.connect("wrap_e", 1, "wrap_h")
    c.connect("wrap_e", 0, "wrap_m")
    c.obj(20, 360, "samplerate~", "sr")
    c.obj(20, 385, "t b f", "sr_t")
    c.obj(60, 410, "v smsr", "sr_v")
    c.obj(150, 335, "r sideman-dsp", "dsp_r")
    c.obj(150, 360, "t b f", "dsp_t")
    c.msg(150, 385, "; pd dsp $1", "dsp_msg")
    c.obj(300, 360, "r sideman-samplerate", "sr_r")
    c.connect("lb", 0, "lb_t")
    c.connect("lb_t", 2, "ramp")
    c.connect("lb_t", 1, "defaults")
    c.connect("lb_t", 0, "sr")
    c.connect("sr_r", 0, "sr")
    c.connect("sr", 0, "sr_t")
    c.connect("sr_t", 1, "sr_v")
    c.connect("dsp_r", 0, "dsp_t")
    c.connect("dsp_t", 1, "dsp_msg")
    c.connect("dsp_t", 0, "sr")
    # Settings the session logic reads (smcfg*), and the stem flags table.
    y = 420
    for i, (key, value) in enumerate((("r", "smcfgr"), ("w", "smcfgw"), ("steps", "smcfgsteps"),
                                      ("variation", "smcfgvar"), ("datagram", "smcfgdg"),
                                      ("file", "smfile"),
                                      ("rec", "smrec"), ("bpb", "smbpb"))):
        xx = 20 + 200 * (i % 5)
        yy = y + 60 * (i // 5)
        c.obj(xx, yy, f"r sideman-{key}", f"cfg_{key}_r")
        c.obj(xx, yy + 25, f"v {value}", f"cfg_{key}_v")
        c.connect(f"cfg_{key}_r", 0, f"cfg_{key}_v")
    for i, stem in enumerate(STEMS):
        c.obj(20 + 200 * i, 560, f"r sideman-stem-{stem}", f"stem_{stem}_r")
        c.msg(20 + 200 * i, 585, f"; smstemflag {i} $1", f"stem_{stem}_m")
        c.connect(f"stem_{stem}_r", 0, f"stem_{stem}_m")
    # The delay in samples (smd) follows the delay and the sample rate.
    c.obj(20, 630, "r sideman-delay", "d_r")
    c.obj(20, 655, "t b", "d_t")
    # the delay in whole 64-sample blocks (see [pd audio])
    c.obj(20, 680, "expr smcfgdelay * smsr / 64000 + 0.5", "d_e")
    c.obj(20, 705, "i", "d_i")
    c.obj(20, 730, "* 64", "d_blocks")
    c.obj(20, 755, "v smd", "d_store2")
    c.connect("d_e", 0, "d_i")
    c.connect("d_i", 0, "d_blocks")
    c.connect("d_blocks", 0, "d_store2")
    c.obj(120, 630, "v smcfgdelay", "d_store")
    c.obj(20, 605, "t b f", "d_in")
    c.connect("d_r", 0, "d_in")
    c.connect("d_in", 1, "d_store")
    c.connect("d_in", 0, "d_t")
    c.connect("sr_t", 0, "d_t")
    c.connect("d_t", 0, "d_e")


def _pd_net(c: PdCanvas) -> None:
    """netsend/oscformat out, oscparse in; every session message gets session and token."""
    c.obj(20, 20, "r sideman-net", "net_r")
    c.obj(20, 400, "netsend -u -b", "netsend")
    c.connect("net_r", 0, "netsend")
    c.obj(20, 60, "r sideman-send", "send_r")
    kinds = ["hello", "audio", "mark", "setting", "status", "bye", "reset", "transport"]
    c.obj(20, 90, "route " + " ".join(kinds), "route_out")
    c.connect("send_r", 0, "route_out")
    c.obj(700, 60, "r sideman-st", "st_r")
    formats = {"hello": "iiis", "audio": "isi", "mark": "isi", "setting": "iss", "status": "is",
               "bye": "is", "reset": "is", "transport": "isfiii"}
    for i, kind in enumerate(kinds):
        x = 20 + 120 * i
        address = "set" if kind == "setting" else kind
        fmt = c.obj(x, 300, f"oscformat -f {formats[kind]} sideman {address}", f"fmt_{kind}")
        if kind == "hello":
            c.connect("route_out", i, fmt)
        else:
            c.obj(x, 150 + 20 * (i % 2), "list prepend", f"pre_{kind}")
            c.connect("route_out", i, f"pre_{kind}")
            c.connect("st_r", 0, f"pre_{kind}", 1)
            c.connect(f"pre_{kind}", 0, fmt)
        c.connect(fmt, 0, "netsend")
    c.obj(20, 440, "oscparse", "parse")
    c.obj(20, 465, "list trim", "trim")
    c.obj(20, 490, "route sideman", "route_sm")
    c.obj(20, 515, "t a b", "heard")
    c.obj(300, 515, "s sideman-heard", "heard_s")
    replies = ["welcome", "ack", "allowed", "chunk", "miss", "status", "warning", "error",
               "bye"]
    c.obj(20, 545, "route " + " ".join(replies), "route_in")
    c.connect("netsend", 1, "parse")
    c.connect("parse", 0, "trim")
    c.connect("trim", 0, "route_sm")
    c.connect("route_sm", 0, "heard")
    c.connect("heard", 1, "heard_s")
    c.connect("heard", 0, "route_in")
    for i, kind in enumerate(replies):
        c.obj(20 + 110 * i, 590 + 20 * (i % 2), f"s sideman-rx-{kind}", f"rx_{kind}")
        c.connect("route_in", i, f"rx_{kind}")


def _pd_session(c: PdCanvas) -> None:
    """Connect, the handshake, settings, start/stop/reset, status and retries."""
    # host and port
    c.obj(20, 20, "r sideman-host", "host_r")
    c.obj(20, 45, "symbol", "host_sym")
    c.obj(150, 20, "r sideman-port", "port_r")
    c.obj(150, 45, "f", "port_f")
    c.connect("host_r", 0, "host_sym", 1)
    c.connect("port_r", 0, "port_f", 1)
    # connect
    c.obj(20, 80, "r sideman-connect", "conn_r")
    c.obj(20, 105, "t b b", "conn_t0")
    c.obj(20, 130, "expr smsr > 0", "conn_ok")
    c.obj(20, 155, "sel 0 1", "conn_sel")
    c.msg(20, 185, "; sideman-info turn DSP on before connecting", "conn_nodsp")
    c.obj(150, 185, "t b b b b b b", "conn_t")
    c.obj(350, 80, "s sideman-samplerate", "conn_sr")
    c.connect("conn_r", 0, "conn_t0")
    c.connect("conn_t0", 1, "conn_sr")
    c.connect("conn_t0", 0, "conn_ok")
    c.connect("conn_ok", 0, "conn_sel")
    c.connect("conn_sel", 0, "conn_nodsp")
    c.connect("conn_sel", 1, "conn_t")
    # (5) a previous session says bye, (4) netsend connects, (3) state, (2) hello, (1) retries
    c.obj(150, 215, "s sideman-disconnect", "conn_bye")
    c.connect("conn_t", 5, "conn_bye")
    c.obj(300, 215, "t b b", "conn_net_t")
    c.obj(300, 245, "pack s f", "conn_pack")
    # netsend ignores connect while connected ("already connected"): disconnect first, so
    # a new host or port, and every automatic reconnect, takes effect.
    c.msg(300, 270, "disconnect, connect $1 $2", "conn_msg")
    c.obj(300, 295, "s sideman-net", "conn_net")
    c.connect("conn_t", 4, "conn_net_t")
    c.connect("conn_net_t", 1, "port_f")
    c.connect("port_f", 0, "conn_pack", 1)
    c.connect("conn_net_t", 0, "host_sym")
    c.connect("host_sym", 0, "conn_pack")
    c.connect("conn_pack", 0, "conn_msg")
    c.connect("conn_msg", 0, "conn_net")
    c.msg(480, 215, "; smphase 1; smtries 0; sideman-info connecting", "conn_state")
    c.obj(480, 245, "random 16777215", "nonce_rand")
    c.obj(480, 270, "+ 1", "nonce_plus")
    c.obj(480, 295, "v smnonce", "nonce_v")
    c.connect("conn_t", 3, "conn_state")
    c.connect("conn_t", 3, "nonce_rand")
    c.connect("nonce_rand", 0, "nonce_plus")
    c.connect("nonce_plus", 0, "nonce_v")
    c.obj(650, 215, "r sideman-hello", "hello_r")
    c.obj(650, 240, "t b b", "hello_e")
    c.obj(760, 265, "v smnonce", "hello_nonce")
    c.obj(650, 265, "expr smsr + 0.5", "hello_sr")
    c.obj(650, 280, "i", "hello_i")
    c.obj(650, 290, "pack f f", "hello_pack")
    c.msg(650, 315, "hello 1 $1 $2 pd", "hello_msg")
    c.obj(650, 340, "s sideman-send", "hello_s")
    c.obj(820, 215, "s sideman-hello", "hello_s2")
    c.connect("conn_t", 2, "hello_s2")
    c.connect("hello_r", 0, "hello_e")
    c.connect("hello_e", 1, "hello_nonce")
    c.connect("hello_nonce", 0, "hello_pack", 1)
    c.connect("hello_e", 0, "hello_sr")
    c.connect("hello_sr", 0, "hello_i")
    c.connect("hello_i", 0, "hello_pack")
    c.connect("hello_pack", 0, "hello_msg")
    c.connect("hello_msg", 0, "hello_s")
    c.obj(820, 245, "v smcr", "cr_v")
    c.connect("hello_i", 0, "cr_v")
    c.msg(150, 245, "1", "metro_on")
    c.connect("conn_t", 1, "metro_on")
    c.connect("conn_t", 0, "timer_reset_s_b")  # placeholder replaced below
    # retries and periodic work: every 250 ms
    c.obj(20, 360, "metro 250", "metro")
    c.connect("metro_on", 0, "metro")
    c.obj(20, 385, "expr smphase", "ph")
    c.obj(20, 410, "sel 0 1 2 3 4", "ph_sel")
    c.msg(20, 440, "0", "metro_off")
    c.connect("metro", 0, "ph")
    c.connect("ph", 0, "ph_sel")
    c.connect("ph_sel", 0, "metro_off")
    c.connect("metro_off", 0, "metro")
    # phase 1: resend the hello, give up after 20 tries
    pd_value_chain(c, 100, 440, "smtries + 1", "smtries", "tries1")
    c.obj(100, 490, "expr smtries > 20", "tries1_gt")
    c.obj(100, 515, "sel 0 1", "tries1_sel")
    c.obj(100, 540, "s sideman-hello", "tries1_hello")
    c.msg(180, 540, "; smphase 0; sideman-info no answer from the server (is sideman serve "
                    "running? host and port right?); sideman-show-connected 0", "tries1_fail")
    c.connect("ph_sel", 1, "tries1")
    c.connect("tries1_t", 0, "tries1_gt")
    c.connect("tries1_gt", 0, "tries1_sel")
    c.connect("tries1_sel", 0, "tries1_hello")
    c.connect("tries1_sel", 1, "tries1_fail")
    c.connect("tries1_sel", 1, "metro_off")
    # phase 2: the initial acks did not end with "refine": ask for the settings anyway
    c.obj(420, 440, "s sideman-settings", "ph2_settings")
    c.connect("ph_sel", 2, "ph2_settings")
    # phase 3: settings unanswered: ask again, start anyway after 8 tries
    pd_value_chain(c, 560, 440, "smtries + 1", "smtries", "tries3")
    c.obj(560, 490, "expr smtries > 8", "tries3_gt")
    c.obj(560, 515, "sel 0 1", "tries3_sel")
    c.obj(560, 540, "s sideman-settings", "tries3_settings")
    c.obj(680, 540, "s sideman-start", "tries3_start")
    c.connect("ph_sel", 3, "tries3")
    c.connect("tries3_t", 0, "tries3_gt")
    c.connect("tries3_gt", 0, "tries3_sel")
    c.connect("tries3_sel", 0, "tries3_settings")
    c.connect("tries3_sel", 1, "tries3_start")
    # phase 4: status every second; 5 s without a reply: say hello again
    c.obj(820, 440, "t b b", "ph4_t")
    c.obj(820, 470, "timer", "silence")
    c.obj(820, 495, "moses 5000", "silence_m")
    c.msg(900, 520, "; sideman-info the server went silent: connecting again; "
                    "sideman-show-connected 0; sideman-connect bang", "silence_again")
    c.obj(820, 545, "f", "status_n")
    c.obj(860, 545, "+ 1", "status_plus")
    c.obj(820, 570, "mod 4", "status_mod")
    c.obj(820, 595, "sel 0", "status_sel")
    c.msg(820, 620, "status", "status_msg")
    c.obj(820, 645, "s sideman-send", "status_s")
    c.connect("ph_sel", 4, "ph4_t")
    c.connect("ph4_t", 1, "silence", 1)
    c.connect("silence", 0, "silence_m")
    c.connect("silence_m", 1, "silence_again")
    c.connect("ph4_t", 0, "status_n")
    c.connect("status_n", 0, "status_plus")
    c.connect("status_plus", 0, "status_n", 1)
    c.connect("status_n", 0, "status_mod")
    c.connect("status_mod", 0, "status_sel")
    c.connect("status_sel", 0, "status_msg")
    c.connect("status_msg", 0, "status_s")
    c.obj(1000, 440, "r sideman-heard", "heard_r")
    c.connect("heard_r", 0, "silence")
    c.obj(1000, 470, "s sideman-heard", "timer_reset_s_b")
    # welcome: session and token for every later message
    c.obj(20, 700, "r sideman-rx-welcome", "wel_r")
    c.obj(20, 725, "t a b", "wel_t")
    c.obj(120, 750, "expr smphase == 1", "wel_ok")
    c.obj(20, 775, "spigot", "wel_gate")
    c.obj(20, 800, "unpack f s f f f f f f s", "wel_unpack")
    c.connect("wel_r", 0, "wel_t")
    c.connect("wel_t", 1, "wel_ok")
    c.connect("wel_ok", 0, "wel_gate", 1)
    c.connect("wel_t", 0, "wel_gate")
    c.connect("wel_gate", 0, "wel_unpack")
    c.obj(20, 830, "t b f", "wel_sess")
    c.obj(100, 860, "pack f s", "wel_pack")
    c.obj(100, 885, "s sideman-st", "wel_st")
    c.obj(20, 860, "v smsession", "wel_sv")
    c.connect("wel_unpack", 1, "wel_pack", 1)
    c.connect("wel_unpack", 0, "wel_sess")
    c.connect("wel_sess", 1, "wel_sv")
    c.connect("wel_sess", 1, "wel_pack")
    c.connect("wel_pack", 0, "wel_st")
    for i, value in ((3, "smmr"), (5, "smhopl"), (6, "smwinf")):
        c.obj(250 + 80 * i, 830, f"v {value}", f"wel_{value}")
        c.connect("wel_unpack", i, f"wel_{value}")
    c.obj(900, 830, "symbol", "wel_model")
    c.connect("wel_unpack", 8, "wel_model", 1)
    c.obj(20, 915, "t b b", "wel_done")
    c.msg(20, 940, "; smphase 2; smtries 0; sideman-show-connected 1", "wel_state")
    c.msg(150, 965, "; sideman-info connected to $1", "wel_info")
    c.connect("wel_sess", 0, "wel_done")
    c.connect("wel_done", 1, "wel_state")
    c.connect("wel_done", 0, "wel_model")
    c.connect("wel_model", 0, "wel_info")
    # acks
    c.obj(500, 700, "r sideman-rx-ack", "ack_r")
    c.obj(500, 725, "t a a", "ack_t")
    c.obj(650, 750, "list split 1", "ack_sess")
    c.obj(650, 775, "t f b", "ack_ok_t")
    c.obj(750, 800, "v smsession", "ack_ok_s")
    c.obj(650, 825, "==", "ack_ok")
    c.connect("ack_ok_t", 1, "ack_ok_s")
    c.connect("ack_ok_s", 0, "ack_ok", 1)
    c.connect("ack_ok_t", 0, "ack_ok")
    c.obj(500, 800, "list split 1", "ack_rest")
    c.obj(500, 825, "spigot", "ack_gate")
    c.obj(500, 850, "list trim", "ack_trim")
    c.obj(500, 875, "route r w reset refine", "ack_route")
    c.connect("ack_r", 0, "ack_t")
    c.connect("ack_t", 1, "ack_sess")
    c.connect("ack_sess", 0, "ack_ok_t")
    c.connect("ack_ok", 0, "ack_gate", 1)
    c.connect("ack_t", 0, "ack_rest")
    c.connect("ack_rest", 1, "ack_gate")
    c.connect("ack_gate", 0, "ack_trim")
    c.connect("ack_trim", 0, "ack_route")
    c.obj(500, 905, "v smrr", "ack_r_v")
    c.obj(570, 905, "v smww", "ack_w_v")
    c.obj(640, 905, "v smfirst", "ack_first_v")
    c.connect("ack_route", 0, "ack_r_v")
    c.connect("ack_route", 1, "ack_w_v")
    c.connect("ack_route", 2, "ack_first_v")
    c.obj(720, 905, "expr smphase", "ack_ph")
    c.obj(720, 930, "sel 2 3", "ack_ph_sel")
    c.obj(720, 955, "s sideman-settings", "ack_settings")
    c.obj(860, 955, "s sideman-start", "ack_start")
    c.connect("ack_route", 3, "ack_ph")
    c.connect("ack_ph", 0, "ack_ph_sel")
    c.connect("ack_ph_sel", 0, "ack_settings")
    c.connect("ack_ph_sel", 1, "ack_start")
    _pd_settings(c)
    _pd_start(c)


def _pd_settings(c: PdCanvas) -> None:
    """The settings burst: r and w in the order that keeps (w+2) r <= 1, then the rest;
    the ack of the last one (refine) starts the stream."""
    x0, y0 = 1100, 20
    c.obj(x0, y0, "r sideman-settings", "set_r")
    c.obj(x0, y0 + 25, "t b b b b b b b b b b", "set_t")
    c.connect("set_r", 0, "set_t")
    c.obj(x0, y0 + 60, "expr smphase == 2", "set_first")
    c.obj(x0, y0 + 85, "sel 1", "set_first_sel")
    c.msg(x0, y0 + 110, "; smphase 3; smtries 0", "set_state")
    c.connect("set_t", 0, "set_first")
    c.connect("set_first", 0, "set_first_sel")
    c.connect("set_first_sel", 0, "set_state")
    # a setting changed while streaming: send the settings again (the server applies what
    # changed; 20 ms collect the changes of one gesture)
    keys = ["r", "w", "steps", "variation", "datagram", "delay"] + [f"stem-{t}" for t in STEMS]
    for i, key in enumerate(keys):
        c.obj(x0 + 100 * (i % 5), y0 + 480 + 25 * (i // 5), f"r sideman-{key}", f"live_{i}")
        c.connect(f"live_{i}", 0, "live_t")
    c.obj(x0, y0 + 570, "t b", "live_t")
    c.obj(x0, y0 + 595, "expr smphase == 4", "live_ok")
    c.obj(x0, y0 + 620, "sel 1", "live_sel")
    c.obj(x0, y0 + 645, "delay 20", "live_delay")
    c.obj(x0, y0 + 670, "s sideman-settings", "live_send")
    c.connect("live_t", 0, "live_ok")
    c.connect("live_ok", 0, "live_sel")
    c.connect("live_sel", 0, "live_delay")
    c.connect("live_delay", 0, "live_send")
    c.obj(x0 + 320, y0 + 720, "s sideman-send", "set_send")
    # 8: r/w
    c.obj(x0 + 700, y0 + 60, "expr smcfgw <= smww", "rw_cmp")
    c.obj(x0 + 700, y0 + 85, "sel 1 0", "rw_sel")
    c.obj(x0 + 700, y0 + 110, "t b b", "rw_wfirst")
    c.obj(x0 + 800, y0 + 110, "t b b", "rw_rfirst")
    c.obj(x0 + 700, y0 + 140, "expr smcfgw", "w_val")
    c.msg(x0 + 700, y0 + 165, "setting w $1", "w_msg")
    c.obj(x0 + 800, y0 + 140, "expr smcfgr", "r_val")
    c.msg(x0 + 800, y0 + 165, "setting r $1", "r_msg")
    c.connect("set_t", 8, "rw_cmp")
    c.connect("rw_cmp", 0, "rw_sel")
    c.connect("rw_sel", 0, "rw_wfirst")
    c.connect("rw_sel", 1, "rw_rfirst")
    c.connect("rw_wfirst", 1, "w_val")
    c.connect("rw_wfirst", 0, "r_val")
    c.connect("rw_rfirst", 1, "r_val")
    c.connect("rw_rfirst", 0, "w_val")
    c.connect("w_val", 0, "w_msg")
    c.connect("r_val", 0, "r_msg")
    c.connect("w_msg", 0, "set_send")
    c.connect("r_msg", 0, "set_send")
    # 7: stems: the enabled ones (drums if none)
    c.obj(x0 + 400, y0 + 60, "t b b b b b b", "stems_t")
    c.connect("set_t", 7, "stems_t")
    c.obj(x0 + 400, y0 + 250, "list store", "stems_store")
    c.msg(x0 + 560, y0 + 90, "list", "stems_clear")
    c.connect("stems_t", 5, "stems_clear")
    c.connect("stems_clear", 0, "stems_store", 1)
    for i, stem in enumerate(STEMS):
        c.obj(x0 + 400 + 70 * i, y0 + 120, f"expr smstemflag[{i}]", f"flag_{stem}")
        c.obj(x0 + 400 + 70 * i, y0 + 145, "sel 1", f"flag_{stem}_sel")
        c.msg(x0 + 400 + 70 * i, y0 + 170, f"append {stem}", f"flag_{stem}_msg")
        c.connect("stems_t", 4 - i, f"flag_{stem}")
        c.connect(f"flag_{stem}", 0, f"flag_{stem}_sel")
        c.connect(f"flag_{stem}_sel", 0, f"flag_{stem}_msg")
        c.connect(f"flag_{stem}_msg", 0, "stems_store")
    c.msg(x0 + 400, y0 + 200, "bang", "stems_out")
    c.connect("stems_t", 0, "stems_out")
    c.connect("stems_out", 0, "stems_store")
    c.obj(x0 + 400, y0 + 280, "t a a", "stems_chk")
    c.obj(x0 + 520, y0 + 305, "list length", "stems_len")
    c.obj(x0 + 520, y0 + 330, "t f f", "stems_len_t")
    c.obj(x0 + 620, y0 + 355, "> 0", "stems_any")
    c.obj(x0 + 520, y0 + 355, "sel 0", "stems_none")
    c.msg(x0 + 520, y0 + 380, "setting stems drums", "stems_default")
    c.obj(x0 + 400, y0 + 330, "spigot", "stems_gate")
    c.obj(x0 + 400, y0 + 405, "list prepend setting stems", "stems_pre")
    c.obj(x0 + 400, y0 + 430, "list trim", "stems_trim")
    c.connect("stems_store", 0, "stems_chk")
    c.connect("stems_chk", 1, "stems_len")
    c.connect("stems_len", 0, "stems_len_t")
    c.connect("stems_len_t", 1, "stems_any")
    c.connect("stems_any", 0, "stems_gate", 1)
    c.connect("stems_len_t", 0, "stems_none")
    c.connect("stems_none", 0, "stems_default")
    c.connect("stems_default", 0, "set_send")
    c.connect("stems_chk", 0, "stems_gate")
    c.connect("stems_gate", 0, "stems_pre")
    c.connect("stems_pre", 0, "stems_trim")
    c.connect("stems_trim", 0, "set_send")
    # 6..1: steps (only when > 0), variation, datagram, delay, realtime, refine
    c.obj(x0 + 100, y0 + 60, "expr smcfgsteps", "steps_val")
    c.obj(x0 + 100, y0 + 85, "moses 1", "steps_m")
    c.msg(x0 + 100, y0 + 110, "setting steps $1", "steps_msg")
    c.connect("set_t", 6, "steps_val")
    c.connect("steps_val", 0, "steps_m")
    c.connect("steps_m", 1, "steps_msg")
    c.connect("steps_msg", 0, "set_send")
    for outlet, (key, expr) in zip((5, 4, 3), (("variation", "smcfgvar"),
                                               ("datagram", "smcfgdg"), ("delay", "smd")),
                                   strict=True):
        c.obj(x0 + 100 + 90 * (5 - outlet), y0 + 150, f"expr {expr}", f"{key}_val")
        c.msg(x0 + 100 + 90 * (5 - outlet), y0 + 175, f"setting {key} $1", f"{key}_msg")
        c.connect("set_t", outlet, f"{key}_val")
        c.connect(f"{key}_val", 0, f"{key}_msg")
        c.connect(f"{key}_msg", 0, "set_send")
    # 9: wrap, first: every position after it is modulo 2^wrap
    c.obj(x0 + 200, y0 + 60, "expr smcfgwrap", "wrap_val")
    c.msg(x0 + 200, y0 + 85, "setting wrap $1", "wrap_msg")
    c.connect("set_t", 9, "wrap_val")
    c.connect("wrap_val", 0, "wrap_msg")
    c.connect("wrap_msg", 0, "set_send")
    c.msg(x0 + 100, y0 + 230, "setting realtime 1", "rt_msg")
    c.msg(x0 + 220, y0 + 230, "setting refine 1", "refine_msg")
    c.connect("set_t", 2, "rt_msg")
    c.connect("set_t", 1, "refine_msg")
    c.connect("rt_msg", 0, "set_send")
    c.connect("refine_msg", 0, "set_send")


def _pd_start(c: PdCanvas) -> None:
    """Streaming starts (after the settings, and on reset): position 0 is the next block."""
    x0, y0 = 20, 1020
    # A start asked for by a reply (network input is handled between a DSP block and its
    # bang~, when smcring is one block behind) waits for the next bang~ ([pd clock]).
    c.obj(x0 + 700, y0 - 40, "r sideman-start", "start_req_r")
    c.msg(x0 + 700, y0 - 15, "; smstartreq 1", "start_req")
    c.connect("start_req_r", 0, "start_req")
    c.obj(x0, y0, "r sideman-do-start", "start_r")
    c.obj(x0, y0 + 25, "t b b b b b", "start_t")
    c.connect("start_r", 0, "start_t")
    clear = "; ".join(f"sideman-{s}-{part} const 0" for s in STEMS
                      for part in ("tail", "head", "gain"))
    c.msg(x0 + 400, y0 + 60, "; smphase 4; smorigin $1; smpos 0; smsent 0; smlo 0; "
                             "smfirst 0; smlost 0; smmisses 0; smfintab const -1; "
                             "smcur const -1; smgot const 0; smcnt const 0; " + clear
          + "; sideman-show-misses 0; sideman-show-lost 0; sideman-show-connected 1",
          "start_state")
    c.obj(x0 + 400, y0 + 35, "v smcring", "start_origin")
    c.connect("start_t", 4, "start_origin")
    c.connect("start_origin", 0, "start_state")
    c.msg(x0 + 200, y0 + 60, "mark 0", "start_mark")
    c.obj(x0 + 200, y0 + 85, "s sideman-send", "start_send")
    c.connect("start_t", 3, "start_mark")
    c.connect("start_mark", 0, "start_send")
    # the sound file input and the recorder start with position 0
    c.obj(x0 + 100, y0 + 60, "expr smfile", "start_file")
    c.obj(x0 + 100, y0 + 85, "sel 1", "start_file_sel")
    c.obj(x0 + 100, y0 + 110, "s sideman-fileplay", "start_file_s")
    c.connect("start_t", 2, "start_file")
    c.connect("start_file", 0, "start_file_sel")
    c.connect("start_file_sel", 0, "start_file_s")
    c.obj(x0, y0 + 60, "expr smrec", "start_rec")
    c.obj(x0, y0 + 85, "sel 1", "start_rec_sel")
    c.obj(x0, y0 + 110, "s sideman-recstart", "start_rec_s")
    c.connect("start_t", 1, "start_rec")
    c.connect("start_rec", 0, "start_rec_sel")
    c.connect("start_rec_sel", 0, "start_rec_s")
    c.obj(x0 + 300, y0 + 140, "s sideman-streaming", "start_ev")
    c.connect("start_t", 0, "start_ev")
    # disconnect
    c.obj(x0, y0 + 180, "r sideman-disconnect", "disc_r")
    c.obj(x0, y0 + 205, "expr smphase >= 2", "disc_ok")
    c.obj(x0, y0 + 230, "sel 1", "disc_sel")
    c.msg(x0, y0 + 255, "bye", "disc_bye")
    c.obj(x0, y0 + 280, "s sideman-send", "disc_send")
    c.msg(x0 + 100, y0 + 230, "; smphase 0; sideman-show-connected 0; sideman-info "
                              "disconnected; sideman-recstop bang; sideman-filestop bang",
          "disc_state")
    c.connect("disc_r", 0, "disc_ok")
    c.connect("disc_ok", 0, "disc_sel")
    c.connect("disc_sel", 0, "disc_bye")
    c.connect("disc_bye", 0, "disc_send")
    c.connect("disc_sel", 0, "disc_state")
    # reset: the server forgets; positions start again at 0 (chunks of older steps are
    # ignored until the reset ack says where the step numbers resume)
    c.obj(x0 + 500, y0 + 180, "r sideman-reset", "reset_r")
    c.obj(x0 + 500, y0 + 205, "expr smphase == 4", "reset_ok")
    c.obj(x0 + 500, y0 + 230, "sel 1", "reset_sel")
    c.obj(x0 + 500, y0 + 255, "t b b b", "reset_t")
    c.msg(x0 + 650, y0 + 280, "reset", "reset_msg")
    c.obj(x0 + 650, y0 + 305, "s sideman-send", "reset_send")
    c.obj(x0 + 580, y0 + 280, "s sideman-start", "reset_start")
    c.msg(x0 + 500, y0 + 330, "; smfirst 1e+09", "reset_first")
    c.connect("reset_r", 0, "reset_ok")
    c.connect("reset_ok", 0, "reset_sel")
    c.connect("reset_sel", 0, "reset_t")
    c.connect("reset_t", 2, "reset_msg")
    c.connect("reset_msg", 0, "reset_send")
    c.connect("reset_t", 1, "reset_start")
    c.connect("reset_t", 0, "reset_first")
    # replies shown to the performer
    c.obj(x0 + 800, y0 + 180, "r sideman-rx-bye", "bye_r")
    c.msg(x0 + 800, y0 + 205, "; smphase 0; sideman-show-connected 0; sideman-info the "
                              "server closed the session", "bye_state")
    c.connect("bye_r", 0, "bye_state")
    c.obj(x0 + 800, y0 + 250, "r sideman-rx-error", "err_r")
    c.obj(x0 + 800, y0 + 275, "list prepend server error", "err_pre")
    c.obj(x0 + 800, y0 + 325, "s sideman-info", "err_s")
    c.obj(x0 + 800, y0 + 300, "list trim", "err_trim")
    c.connect("err_r", 0, "err_pre")
    c.connect("err_pre", 0, "err_trim")
    c.connect("err_trim", 0, "err_s")
    c.obj(x0 + 1000, y0 + 250, "r sideman-rx-warning", "warn_r")
    c.obj(x0 + 1000, y0 + 275, "list prepend server warning", "warn_pre")
    c.connect("warn_r", 0, "warn_pre")
    c.connect("warn_pre", 0, "err_trim")
    c.obj(x0 + 800, y0 + 340, "r sideman-rx-miss", "miss_r")
    c.obj(x0 + 800, y0 + 365, "list split 4", "miss_split")
    c.obj(x0 + 800, y0 + 390, "route late", "miss_late")
    pd_value_chain(c, x0 + 800, y0 + 415, "smmisses + 1", "smmisses", "miss_e")
    c.obj(x0 + 800, y0 + 465, "s sideman-show-misses", "miss_show")
    c.connect("miss_r", 0, "miss_split")
    c.connect("miss_split", 1, "miss_late")
    c.connect("miss_late", 0, "miss_e")
    c.connect("miss_e_t", 0, "miss_show")


def pd_binop(c: PdCanvas, x: int, y: int, name: str, left: str, op: str,
             right: str | int) -> str:
    """Bang ``name`` to compute ``left op right`` (a [value] name or a number each) with Pd's
    arithmetic objects, which are exact float32 operations; the result comes out of
    ``name_out``. (Pd 0.53's [expr] is off by a few units near 2^20, so positions and ring
    slots never go through it.)"""
    c.obj(x, y, "t b b", name)
    if isinstance(right, int):
        c.obj(x, y + 50, f"{op} {right}", f"{name}_out")
    else:
        c.obj(x, y + 50, op, f"{name}_out")
        c.obj(x + 90, y + 25, f"v {right}", f"{name}_r")
        c.connect(name, 1, f"{name}_r")
        c.connect(f"{name}_r", 0, f"{name}_out", 1)
    c.obj(x, y + 25, f"v {left}", f"{name}_l")
    c.connect(name, 0, f"{name}_l")
    c.connect(f"{name}_l", 0, f"{name}_out")
    return f"{name}_out"


def pd_store(c: PdCanvas, x: int, y: int, source: str, value: str, name: str) -> str:
    """``source`` -> [t f f] -> [v value]; the value goes on out of ``name`` once stored."""
    c.obj(x, y, "t f f", name)
    c.obj(x + 60, y + 25, f"v {value}", f"{name}_v")
    c.connect(source, 0, name)
    c.connect(name, 1, f"{name}_v")
    return name


def _pd_clock(c: PdCanvas) -> None:
    """The sample clock: one bang~ per 64-sample block."""
    c.obj(20, 20, "bang~", "tick")
    c.obj(20, 45, "t b b b", "tick_t")
    c.connect("tick", 0, "tick_t")
    # (2) the ring slot of the next block, the input recorder's lap, the playback base slot
    pd_binop(c, 600, 20, "cring", "smcring", "+", 64)
    c.obj(600, 95, f"mod {PD_L}", "cring_mod")
    c.connect("tick_t", 2, "cring")
    c.connect("cring_out", 0, "cring_mod")
    pd_store(c, 600, 120, "cring_mod", "smcring", "cring_s")
    c.obj(600, 170, "t f f", "cring_fan")
    c.connect("cring_s", 0, "cring_fan")
    c.obj(600, 200, "sel 0", "lap")
    c.msg(600, 225, "start 0", "lap_msg")
    c.obj(600, 250, "s sideman-inrec", "lap_s")
    c.connect("cring_fan", 1, "lap")
    c.connect("lap", 0, "lap_msg")
    c.connect("lap_msg", 0, "lap_s")
    c.obj(720, 200, "t f b", "base_t")
    c.obj(820, 225, "v smd", "base_d")
    c.obj(720, 250, "-", "base_minus")
    c.obj(720, 275, f"+ {PD_L}", "base_plus")
    c.obj(720, 300, f"mod {PD_L}", "base_mod")
    c.obj(720, 325, "s sideman-base", "base_s")
    c.connect("cring_fan", 0, "base_t")
    c.connect("base_t", 1, "base_d")
    c.connect("base_d", 0, "base_minus", 1)
    c.connect("base_t", 0, "base_minus")
    c.connect("base_minus", 0, "base_plus")
    c.connect("base_plus", 0, "base_mod")
    c.connect("base_mod", 0, "base_s")
    # (1) streaming: count the captured block, send audio and marks, clear what was played
    c.obj(20, 80, "expr smphase == 4", "streaming")
    c.obj(20, 105, "sel 1", "streaming_sel")
    c.connect("tick_t", 1, "streaming")
    c.connect("streaming", 0, "streaming_sel")
    c.obj(20, 130, "t b b b b", "block_t")
    c.connect("streaming_sel", 0, "block_t")
    pd_binop(c, 20, 160, "pos", "smpos", "+", 64)
    pd_store(c, 20, 235, "pos_out", "smpos", "pos_s")
    c.connect("block_t", 3, "pos")
    # audio: whenever the next slot is a multiple of 256, so that a read never wraps
    c.obj(200, 160, "v smcring", "send_due")
    c.obj(200, 185, "mod 256", "send_mod")
    c.obj(200, 210, "sel 0", "send_sel")
    c.connect("block_t", 2, "send_due")
    c.connect("send_due", 0, "send_mod")
    c.connect("send_mod", 0, "send_sel")
    c.obj(200, 240, "t b b b b b", "send_t")
    c.connect("send_sel", 0, "send_t")
    pd_binop(c, 420, 270, "send_n", "smpos", "-", "smsent")
    c.obj(200, 420, "array get sideman-in", "send_get")
    c.connect("send_t", 4, "send_n")
    c.connect("send_n_out", 0, "send_get", 1)
    c.obj(560, 270, "v smsent", "send_pos")
    c.obj(200, 450, "list prepend", "send_pre")
    c.connect("send_t", 3, "send_pos")
    c.connect("send_pos", 0, "send_pre", 1)
    pd_binop(c, 200, 270, "send_slot", "smorigin", "+", "smsent")
    c.obj(200, 345, f"mod {PD_L}", "send_slot_mod")
    c.connect("send_t", 2, "send_slot")
    c.connect("send_slot_out", 0, "send_slot_mod")
    c.connect("send_slot_mod", 0, "send_get")
    c.connect("send_get", 0, "send_pre")
    c.obj(200, 475, "list prepend audio", "send_audio")
    c.obj(200, 500, "list trim", "send_trim")
    c.obj(200, 525, "s sideman-send", "send_s")
    c.connect("send_pre", 0, "send_audio")
    c.connect("send_audio", 0, "send_trim")
    c.connect("send_trim", 0, "send_s")
    # after the audio: a mark of everything sent, every 1024 samples
    c.obj(700, 400, "v smcring", "mark_due")
    c.obj(700, 425, "mod 1024", "mark_mod")
    c.obj(700, 450, "sel 0", "mark_sel")
    c.obj(700, 475, "v smpos", "mark_pos")
    c.msg(700, 500, "mark $1", "mark_msg")
    c.obj(700, 525, "s sideman-send", "mark_s")
    c.connect("send_t", 1, "mark_due")
    c.connect("mark_due", 0, "mark_mod")
    c.connect("mark_mod", 0, "mark_sel")
    c.connect("mark_sel", 0, "mark_pos")
    c.connect("mark_pos", 0, "mark_msg")
    c.connect("mark_msg", 0, "mark_s")
    c.obj(860, 475, "v smpos", "send_upto")
    c.obj(860, 500, "v smsent", "send_done")
    c.connect("send_t", 0, "send_upto")
    c.connect("send_upto", 0, "send_done")
    # every 1024 samples: zero the rings where positions [smlo, smpos - delay) were played
    # (at most 8192 samples at a time; the rest follows at the next clear)
    c.obj(20, 600, "v smcring", "clear_due")
    c.obj(20, 625, "mod 1024", "clear_mod")
    c.obj(20, 650, "sel 0", "clear_sel")
    c.connect("block_t", 1, "clear_due")
    c.connect("clear_due", 0, "clear_mod")
    c.connect("clear_mod", 0, "clear_sel")
    c.obj(20, 675, "t b b", "clear_t")
    c.connect("clear_sel", 0, "clear_t")
    pd_binop(c, 200, 675, "clear_lim", "smlo", "+", 8192)
    pd_binop(c, 20, 710, "clear_played", "smpos", "-", "smd")
    c.connect("clear_t", 1, "clear_lim")
    c.connect("clear_t", 0, "clear_played")
    c.obj(20, 790, "min", "clear_end")
    c.connect("clear_lim_out", 0, "clear_end", 1)
    c.connect("clear_played_out", 0, "clear_end")
    c.obj(20, 815, "t f f b", "clear_e")
    c.obj(200, 840, "v smlo", "clear_lo")
    c.obj(200, 865, "t f f f", "clear_lo_t")
    c.obj(20, 890, "-", "clear_n")
    c.obj(20, 915, "moses 1", "clear_m")
    c.obj(20, 940, "pack f f", "clear_pack")
    c.obj(350, 890, "max", "clear_newlo")
    c.obj(350, 915, "v smlo", "clear_newlo_v")
    c.connect("clear_end", 0, "clear_e")
    c.connect("clear_e", 2, "clear_lo")
    c.connect("clear_lo", 0, "clear_lo_t")
    c.connect("clear_lo_t", 2, "clear_n", 1)
    c.connect("clear_lo_t", 1, "clear_pack", 1)
    c.connect("clear_lo_t", 0, "clear_newlo", 1)
    c.connect("clear_e", 1, "clear_n")
    c.connect("clear_n", 0, "clear_m")
    c.connect("clear_m", 1, "clear_pack")
    c.connect("clear_e", 0, "clear_newlo")
    c.connect("clear_newlo", 0, "clear_newlo_v")
    clear = "; ".join(f"sideman-ringcopy sideman-zeros 0 $1 $2 sideman-{s}-{part}"
                      for s in STEMS for part in ("tail", "head", "gain"))
    c.msg(20, 980, "; " + clear, "clear_msg")
    c.connect("clear_pack", 0, "clear_msg")
    # (0) the count wraps: at 2^wrap every position the patch holds moves down by 2^wrap
    # (the server reads positions modulo 2^wrap) and the origin slot moves up by as much, so
    # every position keeps its ring slot
    pd_binop(c, 500, 600, "wrap_cmp", "smpos", "-", "smwrap")
    c.obj(500, 675, "moses 0", "wrap_due")
    c.obj(500, 700, "t b", "wrap_go")
    c.connect("block_t", 0, "wrap_cmp")
    c.connect("wrap_cmp_out", 0, "wrap_due")
    c.connect("wrap_due", 1, "wrap_go")
    pd_program(c, 500, 730, "rebase", [
        ("smpos", "smpos", "-", "smwrap"),
        ("smsent", "smsent", "-", "smwrap"),
        ("smlo", "smlo", "-", "smwrap"),
        ("smbeatpos", "smbeatpos", "-", "smwrap"),
        ("smorigin", "smorigin", "+", "smwrap"),
        ("smorigin", "smorigin", "mod", PD_L),
    ])
    c.connect("wrap_go", 0, "rebase")
    # sideman-clock-at N (a multiple of 64): move the ring clock and the input recorder to
    # slot N together, e.g. for a test that runs across the end of the ring
    c.obj(1100, 20, "r sideman-clock-at", "clock_at")
    c.obj(1100, 45, "t f f", "clock_at_t")
    c.msg(1200, 70, "start $1", "clock_at_start")
    c.obj(1200, 95, "s sideman-inrec", "clock_at_rec")
    c.obj(1100, 70, "v smcring", "clock_at_v")
    c.connect("clock_at", 0, "clock_at_t")
    c.connect("clock_at_t", 1, "clock_at_start")
    c.connect("clock_at_start", 0, "clock_at_rec")
    c.connect("clock_at_t", 0, "clock_at_v")
    # a start asked for since the last block happens here: position 0 is the next block
    c.obj(900, 80, "expr smstartreq", "startreq")
    c.obj(900, 105, "sel 1", "startreq_sel")
    c.msg(900, 130, "; smstartreq 0; sideman-do-start bang", "startreq_go")
    c.connect("tick_t", 0, "startreq")
    c.connect("startreq", 0, "startreq_sel")
    c.connect("startreq_sel", 0, "startreq_go")


def pd_program(c: PdCanvas, x: int, y: int, name: str,
               steps: list[tuple[str, str, str, str | int]]) -> str:
    """Bang ``name`` to run ``value = left op right`` for each step, in order (with the
    exact arithmetic objects of :func:`pd_binop`)."""
    n = len(steps)
    c.obj(x, y, "t " + " ".join(["b"] * n), name)
    for i, (value, left, op, right) in enumerate(steps):
        bx = x + 130 * i
        out = pd_binop(c, bx, y + 40, f"{name}_{i}", left, op, right)
        c.obj(bx, y + 115, f"v {value}", f"{name}_{i}_v")
        c.connect(name, n - 1 - i, f"{name}_{i}")
        c.connect(out, 0, f"{name}_{i}_v")
    return name


def pd_ringcopy_call(c: PdCanvas, x: int, y: int, name: str, n: str, offset: str, position: str,
                     dest: str) -> str:
    """Bang ``name``: when [v n] >= 1, copy n samples of sideman-scratch from [v offset] to the
    ring named by the symbol in [symbol] ``dest`` at position [v position]."""
    c.obj(x, y, f"v {n}", name)
    c.obj(x, y + 25, "moses 1", f"{name}_m")
    c.obj(x, y + 50, "t b b b b b", f"{name}_t")
    c.obj(x, y + 150, "pack s f f f s", f"{name}_pack")
    c.obj(x + 240, y + 75, f"v {offset}", f"{name}_off")
    c.obj(x + 180, y + 100, f"v {n}", f"{name}_n")
    c.obj(x + 120, y + 75, f"v {position}", f"{name}_pos")
    c.msg(x, y + 100, "symbol sideman-scratch", f"{name}_src")
    c.msg(x, y + 175, "; sideman-ringcopy $1 $2 $3 $4 $5", f"{name}_msg")
    c.connect(name, 0, f"{name}_m")
    c.connect(f"{name}_m", 1, f"{name}_t")
    c.connect(f"{name}_t", 4, f"{name}_off")
    c.connect(f"{name}_off", 0, f"{name}_pack", 1)
    c.connect(f"{name}_t", 3, f"{name}_n")
    c.connect(f"{name}_n", 0, f"{name}_pack", 2)
    c.connect(f"{name}_t", 2, f"{name}_pos")
    c.connect(f"{name}_pos", 0, f"{name}_pack", 3)
    c.connect(f"{name}_t", 1, dest)
    c.connect(dest, 0, f"{name}_pack", 4)
    c.connect(f"{name}_t", 0, f"{name}_src")
    c.connect(f"{name}_src", 0, f"{name}_pack")
    c.connect(f"{name}_pack", 0, f"{name}_msg")
    return name


def _pd_writer(c: PdCanvas) -> None:
    """Returned chunks into the rings (PROTOCOL.md, Writing chunks)."""
    c.obj(20, 20, "r sideman-rx-chunk", "chunk_r")
    c.obj(20, 45, "list split 9", "split")
    c.connect("chunk_r", 0, "split")
    # the samples (right outlet, first): into the scratch array, and their count
    c.obj(400, 75, "t a a", "samples_t")
    c.obj(520, 100, "list length", "samples_n")
    c.obj(520, 125, "v smn", "samples_nv")
    c.obj(400, 150, "array set sideman-scratch", "samples_set")
    c.connect("split", 1, "samples_t")
    c.connect("samples_t", 1, "samples_n")
    c.connect("samples_n", 0, "samples_nv")
    c.connect("samples_t", 0, "samples_set")
    # the header: session stem step start xfade position index count final
    c.obj(20, 100, "unpack f s f f f f f f f", "hdr")
    c.connect("split", 0, "hdr")
    for outlet, value in ((8, "smfin"), (7, "smcount"), (6, "smindex"), (5, "smcpos"),
                          (4, "smxf"), (3, "smstart"), (2, "smstep")):
        c.obj(20 + 70 * (8 - outlet), 160, f"v {value}", f"hdr_{value}")
        c.connect("hdr", outlet, f"hdr_{value}")
    c.obj(600, 200, "sel bass drums guitar piano", "stem_sel")
    c.connect("hdr", 1, "stem_sel")
    for i in range(4):
        c.msg(600 + 60 * i, 250, f"; smstemi {i}", f"stem_i{i}")
        c.connect("stem_sel", i, f"stem_i{i}")
    c.msg(860, 250, "; smstemi -1", "stem_none")
    c.connect("stem_sel", 4, "stem_none")
    for j, part in enumerate(("tail", "head", "gain")):
        c.obj(600 + 160 * j, 300, f"makefilename sideman-%s-{part}", f"name_{part}")
        c.obj(600 + 160 * j, 325, "symbol", f"name_{part}_sym")
        c.connect(f"name_{part}", 0, f"name_{part}_sym", 1)
    c.obj(600, 275, "t s s s", "names_t")
    c.connect("hdr", 1, "names_t")
    for j, part in enumerate(("tail", "head", "gain")):
        c.connect("names_t", 2 - j, f"name_{part}")
    c.obj(20, 180, "t f b", "ok_t")
    c.obj(120, 180, "v smsession", "ok_s")
    c.obj(20, 205, "==", "ok_eq")
    c.obj(20, 230, "sel 1", "ok_eq_sel")
    c.obj(100, 205, "expr smstemi >= 0 && smstep >= smfirst", "ok")
    c.obj(100, 230, "sel 1", "ok_sel")
    c.connect("ok_t", 1, "ok_s")
    c.connect("ok_s", 0, "ok_eq", 1)
    c.connect("ok_t", 0, "ok_eq")
    c.connect("ok_eq", 0, "ok_eq_sel")
    c.connect("ok_eq_sel", 0, "ok")
    c.obj(20, 250, "expr smstemflag[smstemi]", "enabled")
    c.obj(20, 275, "sel 1", "enabled_sel")
    c.connect("hdr", 0, "ok_t")
    c.connect("ok", 0, "ok_sel")
    c.connect("ok_sel", 0, "enabled")
    c.connect("enabled", 0, "enabled_sel")
    # a quick chunk (final 0) after the final one of the same step and index is ignored; a
    # final chunk notes its step in smfintab[stem][step mod 64][index mod 256]
    c.obj(20, 300, "t b b", "finslot_t")
    pd_program(c, 150, 300, "finslot", [
        ("smfinslot", "smstep", "mod", 64),
        ("smfinslot", "smfinslot", "*", 256),
        ("smfinidx", "smindex", "mod", 256),
        ("smfinslot", "smfinslot", "+", "smfinidx"),
        ("smfinstem", "smstemi", "*", 16384),
        ("smfinslot", "smfinslot", "+", "smfinstem"),
    ])
    c.connect("enabled_sel", 0, "finslot_t")
    c.connect("finslot_t", 1, "finslot")
    c.obj(20, 430, "expr if(smfin == 0 && smfintab[smfinslot] == smstep \\, 0 \\, 1)",
          "fresh")
    c.obj(20, 455, "sel 1", "fresh_sel")
    c.connect("finslot_t", 0, "fresh")
    c.connect("fresh", 0, "fresh_sel")
    c.obj(20, 480, "t b b b b b", "w_t")
    c.connect("fresh_sel", 0, "w_t")
    c.obj(900, 480, "expr smfin", "fin")
    c.obj(900, 505, "sel 1", "fin_sel")
    c.obj(900, 530, "expr smstep \\; smfinslot", "fin_e")
    c.obj(900, 555, "tabwrite smfintab", "fin_w")
    c.connect("w_t", 4, "fin")
    c.connect("fin", 0, "fin_sel")
    c.connect("fin_sel", 0, "fin_e")
    c.connect("fin_e", 1, "fin_w", 1)
    c.connect("fin_e", 0, "fin_w")
    # the window [a, b) that may be written, where the crossfade ends (split), and the parts
    # chunk start and position come modulo 2^wrap: the ones nearest to the count smpos
    unwrap = [step for value in ("smcpos", "smstart") for step in (
        (value, value, "-", "smpos"), (value, value, "+", "smwraph"),
        (value, value, "mod", "smwrap"), (value, value, "-", "smwraph"),
        (value, value, "+", "smpos"))]
    pd_program(c, 20, 620, "win", [
        *unwrap,
        ("smcend", "smcpos", "+", "smn"),
        ("smblim", "smlo", "+", PD_L),
        ("smb", "smcend", "min", "smblim"),
        ("sma", "smcpos", "max", "smlo"),
        ("smh", "smstart", "+", "smxf"),
        ("smsplit", "sma", "max", "smh"),
        ("smsplit", "smsplit", "min", "smb"),
        ("smtn", "smb", "-", "smsplit"),
        ("smtoff", "smsplit", "-", "smcpos"),
        ("smhn", "smsplit", "-", "sma"),
        ("smhoff", "sma", "-", "smcpos"),
    ])
    c.connect("w_t", 3, "win")
    # tail: [split, b); head: [a, split)
    pd_ringcopy_call(c, 20, 800, "tail", "smtn", "smtoff", "smsplit", "name_tail_sym")
    c.connect("w_t", 2, "tail")
    c.obj(400, 800, "t b b", "headgain_t")
    c.connect("w_t", 1, "headgain_t")
    pd_ringcopy_call(c, 400, 830, "head", "smhn", "smhoff", "sma", "name_head_sym")
    c.connect("headgain_t", 1, "head")
    # the gains, one by one: g = (p - start + 1) / (xfade + 1) at slot (origin + p) mod L
    c.obj(700, 800, "v smhn", "gain_n")
    c.obj(700, 825, "moses 1", "gain_m")
    c.obj(700, 850, "t f b b b b", "gain_t")
    c.connect("headgain_t", 0, "gain_n")
    c.connect("gain_n", 0, "gain_m")
    c.connect("gain_m", 1, "gain_t")
    c.msg(1000, 900, "set $1", "gain_set")
    c.connect("gain_t", 4, "name_gain_sym")
    c.connect("name_gain_sym", 0, "gain_set")
    c.obj(900, 875, "v sma", "gain_a")
    c.obj(830, 875, "v smorigin", "gain_origin")
    c.obj(760, 875, "v smstart", "gain_start")
    c.obj(700, 900, "until", "gain_until")
    c.obj(700, 925, "f", "gain_p")
    c.obj(740, 925, "+ 1", "gain_inc")
    c.obj(700, 950, "t f f", "gain_pt")
    c.obj(820, 975, "+", "gain_slot")
    c.obj(820, 1000, f"mod {PD_L}", "gain_slot_mod")
    c.obj(700, 975, "-", "gain_rel")
    c.obj(700, 1000, "expr ($f1 + 1) / (smxf + 1)", "gain_e")
    c.obj(700, 1025, "tabwrite sideman-bass-gain", "gain_w")
    c.connect("gain_t", 3, "gain_a")
    c.connect("gain_a", 0, "gain_p", 1)
    c.connect("gain_t", 2, "gain_origin")
    c.connect("gain_origin", 0, "gain_slot", 1)
    c.connect("gain_t", 1, "gain_start")
    c.connect("gain_start", 0, "gain_rel", 1)
    c.connect("gain_set", 0, "gain_w")
    c.connect("gain_t", 0, "gain_until")
    c.connect("gain_until", 0, "gain_p")
    c.connect("gain_p", 0, "gain_inc")
    c.connect("gain_inc", 0, "gain_p", 1)
    c.connect("gain_p", 0, "gain_pt")
    c.connect("gain_pt", 1, "gain_slot")
    c.connect("gain_slot", 0, "gain_slot_mod")
    c.connect("gain_slot_mod", 0, "gain_w", 1)
    c.connect("gain_pt", 0, "gain_rel")
    c.connect("gain_rel", 0, "gain_e")
    c.connect("gain_e", 0, "gain_w")
    # status: samples that came too late count a miss; the last chunk of a step gives slack
    # and latency (display only); chunks missing when the next step of the stem begins are
    # lost
    c.obj(1100, 480, "t b b", "stat_t")
    c.connect("w_t", 0, "stat_t")
    c.obj(1300, 510, "v smhoff", "late")
    c.obj(1300, 535, "moses 1", "late_sel")
    pd_value_chain(c, 1300, 560, "smmisses + 1", "smmisses", "late_e")
    c.obj(1300, 640, "s sideman-show-misses", "late_show")
    c.connect("stat_t", 1, "late")
    c.connect("late", 0, "late_sel")
    c.connect("late_sel", 1, "late_e")
    c.connect("late_e_t", 0, "late_show")
    c.obj(1100, 510, "t b b", "stat2_t")
    c.connect("stat_t", 0, "stat2_t")
    c.obj(1100, 540, "expr smindex == smcount - 1", "last")
    c.obj(1100, 565, "sel 1", "last_sel")
    c.obj(1100, 590, "expr (smstart + smxf + smd - smpos) * 1000 / max(1 \\, smsr) \\; "
                     "(smpos - (smstart + smxf - smww * smrr * smwinf * smhopl * smcr / "
                     "max(1 \\, smmr))) * 1000 / max(1 \\, smsr)", "last_e")
    c.obj(1100, 620, "s sideman-show-slack", "slack_s")
    c.obj(1300, 700, "s sideman-show-latency", "latency_s")
    c.connect("stat2_t", 1, "last")
    c.connect("last", 0, "last_sel")
    c.connect("last_sel", 0, "last_e")
    c.connect("last_e", 0, "slack_s")
    c.connect("last_e", 1, "latency_s")
    c.obj(1100, 730, "expr if(smstep > smcur[smstemi] \\, 1 \\, if(smstep == smcur[smstemi] "
                     "\\, 2 \\, 3))", "lost_case")
    c.obj(1100, 755, "sel 1 2 3", "lost_sel")
    c.connect("stat2_t", 0, "lost_case")
    c.connect("lost_case", 0, "lost_sel")
    pd_value_chain(c, 1100, 790, "smlost + if(smcur[smstemi] >= 0 \\, max(0 \\, "
                   "smcnt[smstemi] - smgot[smstemi]) \\, 0)", "smlost", "lost_new")
    c.obj(1100, 870, "t b b", "lost_new_go")
    c.msg(1100, 925, "; smcur $1 $2; smgot $1 1; smcnt $1 $3", "lost_reset")
    c.obj(1100, 895, "expr smstemi \\; smstep \\; smcount", "lost_vals")
    c.obj(1250, 920, "pack f f f", "lost_pack")
    c.connect("lost_sel", 0, "lost_new")
    c.connect("lost_new_t", 0, "lost_new_go")
    c.connect("lost_new_go", 1, "lost_vals")
    c.connect("lost_vals", 2, "lost_pack", 2)
    c.connect("lost_vals", 1, "lost_pack", 1)
    c.connect("lost_vals", 0, "lost_pack")
    c.connect("lost_pack", 0, "lost_reset")
    c.obj(1400, 790, "expr smgot[smstemi] + 1 \\; smstemi", "got_e")
    c.obj(1400, 840, "tabwrite smgot", "got_w")
    c.connect("lost_sel", 1, "got_e")
    c.connect("got_e", 1, "got_w", 1)
    c.connect("got_e", 0, "got_w")
    pd_value_chain(c, 1550, 790, "max(0 \\, smlost - 1)", "smlost", "lost_back")
    c.connect("lost_sel", 2, "lost_back")
    c.obj(1100, 970, "v smlost", "lost_show_e")
    c.obj(1100, 995, "s sideman-show-lost", "lost_show")
    c.connect("lost_new_go", 0, "lost_show_e")
    c.connect("lost_back_t", 0, "lost_show_e")


def _pd_ringcopy(c: PdCanvas) -> None:
    """[r sideman-ringcopy] src srcoffset n destposition dest: copy n samples of array src
    from srcoffset into the ring dest at the slot of a position, wrapping at the end."""
    c.obj(20, 20, "r sideman-ringcopy", "rc_r")
    c.obj(20, 45, "unpack s f f f s", "rc_u")
    c.connect("rc_r", 0, "rc_u")
    c.obj(400, 80, "t s s", "rc_dest")
    c.connect("rc_u", 4, "rc_dest")
    c.obj(300, 80, "v rcdp", "rc_dp")
    c.obj(220, 80, "v rcn", "rc_n")
    c.obj(140, 80, "v rcso", "rc_so")
    c.connect("rc_u", 3, "rc_dp")
    c.connect("rc_u", 2, "rc_n")
    c.connect("rc_u", 1, "rc_so")
    c.obj(20, 80, "t b s s", "rc_src")
    c.connect("rc_u", 0, "rc_src")
    # slot of the position; the part A that fits before the end of the ring; the rest B
    pd_program(c, 20, 120, "rc_calc", [
        ("rcslot", "smorigin", "+", "rcdp"),
        ("rcslot", "rcslot", "mod", PD_L),
        ("rcroom", "rcslot", "*", -1),
        ("rcroom", "rcroom", "+", PD_L),
        ("rcfirst", "rcn", "min", "rcroom"),
        ("rcrest", "rcn", "-", "rcfirst"),
        ("rcbon", "rcso", "+", "rcfirst"),
    ])
    c.obj(20, 300, "t b b b", "rc_go")
    c.connect("rc_src", 0, "rc_go")
    c.connect("rc_go", 2, "rc_calc")
    # part A
    c.obj(20, 340, "t b b b", "rc_a")
    c.connect("rc_go", 1, "rc_a")
    c.obj(200, 365, "v rcslot", "rc_a_slot")
    c.obj(120, 365, "v rcfirst", "rc_a_n")
    c.obj(20, 365, "v rcso", "rc_a_on")
    c.obj(20, 400, "array get sideman-zeros", "get_a")
    c.obj(20, 440, "array set sideman-zeros", "set_a")
    c.connect("rc_a", 2, "rc_a_slot")
    c.connect("rc_a_slot", 0, "set_a", 1)
    c.connect("rc_a", 1, "rc_a_n")
    c.connect("rc_a_n", 0, "get_a", 1)
    c.connect("rc_a", 0, "rc_a_on")
    c.connect("rc_a_on", 0, "get_a")
    c.connect("get_a", 0, "set_a")
    c.connect("rc_src", 2, "get_a", 2)
    c.connect("rc_dest", 1, "set_a", 2)
    # part B (only when the copy wraps round the end of the ring)
    c.obj(450, 340, "v rcrest", "rc_b_n")
    c.obj(450, 365, "moses 1", "rc_b_m")
    c.obj(450, 390, "t b f", "rc_b_t")
    c.obj(450, 415, "v rcbon", "rc_b_on")
    c.obj(450, 440, "array get sideman-zeros", "get_b")
    c.obj(450, 480, "array set sideman-zeros", "set_b")
    c.connect("rc_go", 0, "rc_b_n")
    c.connect("rc_b_n", 0, "rc_b_m")
    c.connect("rc_b_m", 1, "rc_b_t")
    c.connect("rc_b_t", 1, "get_b", 1)
    c.connect("rc_b_t", 0, "rc_b_on")
    c.connect("rc_b_on", 0, "get_b")
    c.connect("get_b", 0, "set_b")
    c.connect("rc_src", 1, "get_b", 2)
    c.connect("rc_dest", 0, "set_b", 2)


def _pd_audio(c: PdCanvas) -> None:
    """Input into the ring, the stems out of theirs, the mix, the recorder."""
    c.obj(20, 20, "adc~ 1", "adc")
    c.obj(20, 50, "*~", "mic")
    c.obj(80, 20, "r sideman-mic", "mic_r")
    c.connect("adc", 0, "mic")
    c.connect("mic_r", 0, "mic", 1)
    # The file is read into two arrays, left and right (soundfiler zeroes the right one for a
    # mono file); both play together and are summed, times 1 / min(channels, 2): a stereo
    # file is mixed down to (left + right) / 2, a mono file plays at its own level.
    c.obj(200, 20, "tabplay~ sideman-file", "play")
    c.obj(200, 50, "tabplay~ sideman-file-r", "play_r")
    c.obj(200, 80, "*~ 1", "file_mix")
    c.obj(200, 110, "*~", "file_gate")
    c.obj(350, 20, "r sideman-file", "file_r")
    c.obj(350, 80, "r sideman-fileplay", "fileplay_r")
    c.obj(500, 80, "r sideman-filestop", "filestop_r")
    c.msg(500, 105, "stop", "filestop_msg")
    c.connect("play", 0, "file_mix")
    c.connect("play_r", 0, "file_mix")
    c.connect("file_mix", 0, "file_gate")
    c.connect("file_r", 0, "file_gate", 1)
    c.connect("fileplay_r", 0, "play")
    c.connect("fileplay_r", 0, "play_r")
    c.connect("filestop_r", 0, "filestop_msg")
    c.connect("filestop_msg", 0, "play")
    c.connect("filestop_msg", 0, "play_r")
    # open: a file dialog, or a path sent to sideman-open
    c.obj(650, 20, "r sideman-open", "open_r")
    c.obj(650, 45, "route bang", "open_route")
    c.obj(650, 70, "openpanel", "open_panel")
    c.obj(650, 100, "list prepend read -resize", "open_msg")
    c.obj(650, 125, "list append sideman-file sideman-file-r", "open_append")
    c.obj(650, 150, "list trim", "open_trim")
    c.obj(650, 175, "soundfiler", "open_sf")
    c.obj(650, 200, "list prepend loaded samples:", "open_info")
    c.obj(850, 200, "list trim", "open_info_trim")
    c.obj(650, 225, "s sideman-info", "open_info_s")
    c.connect("open_r", 0, "open_route")
    c.connect("open_route", 0, "open_panel")
    c.connect("open_route", 1, "open_msg")
    c.connect("open_panel", 0, "open_msg")
    c.connect("open_msg", 0, "open_append")
    c.connect("open_append", 0, "open_trim")
    c.connect("open_trim", 0, "open_sf")
    c.connect("open_sf", 0, "open_info")
    c.connect("open_info", 0, "open_info_trim")
    c.connect("open_info_trim", 0, "open_info_s")
    # soundfiler's right outlet: samplerate headersize channels bytes endianness
    c.msg(850, 250, "$3", "open_nch")
    c.obj(850, 275, "min 2", "open_nch_min")
    c.obj(850, 300, "expr 1 / $f1", "open_nch_gain")
    c.connect("open_sf", 1, "open_nch")
    c.connect("open_nch", 0, "open_nch_min")
    c.connect("open_nch_min", 0, "open_nch_gain")
    c.connect("open_nch_gain", 0, "file_mix", 1)
    c.obj(20, 90, "*~", "in_gain")
    c.obj(80, 65, "r sideman-input-gain", "in_gain_r")
    c.connect("mic", 0, "in_gain")
    c.connect("file_gate", 0, "in_gain")
    c.connect("in_gain_r", 0, "in_gain", 1)
    c.obj(20, 130, "tabwrite~ sideman-in", "rec_in")
    c.obj(200, 130, "r sideman-inrec", "rec_in_r")
    c.connect("in_gain", 0, "rec_in")
    c.connect("rec_in_r", 0, "rec_in")
    c.obj(20, 160, "*~", "monitor")
    c.obj(80, 160, "r sideman-monitor", "monitor_r")
    c.connect("in_gain", 0, "monitor")
    c.obj(20, 1000, "env~", "in_env")
    c.obj(20, 1025, "- 100", "in_db")
    c.obj(20, 1050, "s sideman-level-in", "in_db_s")
    c.connect("in_gain", 0, "in_env")
    c.connect("in_env", 0, "in_db")
    c.connect("in_db", 0, "in_db_s")
    c.connect("monitor_r", 0, "monitor", 1)
    # stems: tail + gain * (head - tail) at the playback slot
    # the playback slot of each sample: the block's base slot from [pd clock] plus 0..63
    # (computed in this canvas, connected, so it comes before the reads in the same block: an
    # s~/r~ pair could be a block late). The delay is a whole number of blocks, so a block
    # never wraps round the ring and no [expr~] is needed (it is not exact near 2^20).
    c.obj(300, 195, "r sideman-base", "base_r")
    c.obj(300, 220, "sig~", "base_sig")
    c.obj(450, 220, "tabreceive~ sideman-ramp", "ramp")
    c.obj(20, 220, "+~", "slot")
    c.connect("base_r", 0, "base_sig")
    c.connect("base_sig", 0, "slot")
    c.connect("ramp", 0, "slot", 1)
    for i, stem in enumerate(STEMS):
        x = 20 + 250 * i
        for j, part in enumerate(("tail", "head", "gain")):
            c.obj(x, 250 + 25 * j, f"tabread~ sideman-{stem}-{part}", f"{stem}_{part}")
            c.connect("slot", 0, f"{stem}_{part}")
        c.obj(x, 330, "-~", f"{stem}_diff")
        c.obj(x, 355, "*~", f"{stem}_fade")
        c.obj(x, 380, "+~", f"{stem}_sum")
        c.obj(x, 405, "*~", f"{stem}_level")
        c.obj(x + 60, 405, f"r sideman-gain-{stem}", f"{stem}_level_r")
        c.connect(f"{stem}_head", 0, f"{stem}_diff")
        c.connect(f"{stem}_tail", 0, f"{stem}_diff", 1)
        c.connect(f"{stem}_diff", 0, f"{stem}_fade")
        c.connect(f"{stem}_gain", 0, f"{stem}_fade", 1)
        c.connect(f"{stem}_fade", 0, f"{stem}_sum")
        c.connect(f"{stem}_tail", 0, f"{stem}_sum", 1)
        c.connect(f"{stem}_sum", 0, f"{stem}_level")
        c.connect(f"{stem}_level_r", 0, f"{stem}_level", 1)
        c.connect(f"{stem}_level", 0, "gen")
        # the stem's level for its meter (vu takes dB below full scale: env~ - 100)
        c.obj(x, 900, "env~", f"{stem}_env")
        c.obj(x, 925, "- 100", f"{stem}_db")
        c.obj(x, 950, f"s sideman-level-{stem}", f"{stem}_db_s")
        c.connect(f"{stem}_level", 0, f"{stem}_env")
        c.connect(f"{stem}_env", 0, f"{stem}_db")
        c.connect(f"{stem}_db", 0, f"{stem}_db_s")
    c.obj(20, 460, "+~", "gen")
    c.obj(20, 490, "+~", "out")
    c.connect("gen", 0, "out")
    c.connect("monitor", 0, "out", 1)
    c.obj(20, 520, "dac~ 1 2", "dac")
    c.connect("out", 0, "dac")
    c.connect("out", 0, "dac", 1)
    # record: channel 1 the input as sent, channel 2 the generated parts
    c.obj(300, 520, "writesf~ 2", "writer")
    c.connect("in_gain", 0, "writer")
    c.connect("gen", 0, "writer", 1)
    c.obj(450, 460, "r sideman-recstart", "recstart_r")
    c.obj(450, 485, "r sideman-rec-file", "recfile_r")
    c.obj(600, 460, "symbol", "recfile_sym")
    c.msg(600, 490, "open -bytes 4 $1 \\, start", "recstart_msg")
    c.obj(750, 460, "r sideman-recstop", "recstop_r")
    c.msg(750, 490, "stop", "recstop_msg")
    c.connect("recfile_r", 0, "recfile_sym", 1)
    c.connect("recstart_r", 0, "recfile_sym")
    c.connect("recfile_sym", 0, "recstart_msg")
    c.connect("recstart_msg", 0, "writer")
    c.connect("recstop_r", 0, "recstop_msg")
    c.connect("recstop_msg", 0, "writer")


def _pd_transport(c: PdCanvas) -> None:
    """Tempo from the tempo box and the downbeat button: /sideman/transport."""
    c.obj(20, 20, "r sideman-downbeat", "down_r")
    c.obj(20, 45, "v smpos", "down_pos")
    pd_store(c, 20, 70, "down_pos", "smbeatpos", "down_pos_t")
    c.connect("down_r", 0, "down_pos")
    c.obj(200, 20, "r sideman-tempo", "tempo_r")
    c.obj(200, 45, "t b f", "tempo_t")
    c.obj(240, 70, "v smtempo", "tempo_v")
    c.obj(20, 110, "t b", "tr_t")
    c.connect("down_pos_t", 0, "tr_t")
    c.connect("tempo_r", 0, "tempo_t")
    c.connect("tempo_t", 1, "tempo_v")
    c.connect("tempo_t", 0, "tr_t")
    c.obj(20, 135, "expr smphase == 4", "tr_ok")
    c.obj(20, 160, "sel 1", "tr_sel")
    c.obj(20, 185, "t b b b", "tr_e")
    c.obj(20, 210, "v smtempo", "tr_tempo")
    c.obj(100, 210, "v smbeatpos", "tr_pos")
    c.obj(200, 210, "v smbpb", "tr_bpb")
    c.obj(200, 235, "max 1", "tr_bpb1")
    c.obj(20, 260, "pack f f f", "tr_pack")
    c.msg(20, 285, "transport $1 $2 $3 0", "tr_msg")
    c.obj(20, 310, "s sideman-send", "tr_s")
    c.connect("tr_t", 0, "tr_ok")
    c.connect("tr_ok", 0, "tr_sel")
    c.connect("tr_sel", 0, "tr_e")
    c.connect("tr_e", 2, "tr_bpb")
    c.connect("tr_bpb", 0, "tr_bpb1")
    c.connect("tr_bpb1", 0, "tr_pack", 2)
    c.connect("tr_e", 1, "tr_pos")
    c.connect("tr_pos", 0, "tr_pack", 1)
    c.connect("tr_e", 0, "tr_tempo")
    c.connect("tr_tempo", 0, "tr_pack")
    c.connect("tr_pack", 0, "tr_msg")
    c.connect("tr_msg", 0, "tr_s")


# =========================================================================================
# writing
# =========================================================================================
def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n")


def outputs() -> dict[Path, str]:
    """Every generated file and its text."""
    main, help_patch = build_max()
    return {
        HERE / "sideman.maxpat": json.dumps(main, indent=1) + "\n",
        HERE / "sideman-help.maxpat": json.dumps(help_patch, indent=1) + "\n",
        HERE / "sideman.pd": build_pd(),
    }


def main() -> None:
    for path, text in outputs().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
