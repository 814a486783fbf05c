"""Generate the performer patches: sideman.maxpat, sideman-help.maxpat and sideman.pd.

Run ``python max_patches/build_patches.py`` after changing this file and commit the output
with it; ``tests/test_max_patches.py`` and ``tests/test_pd_patch.py`` check that the files
are current. Building the patches from code keeps every box, cord and label consistent and
the diff of a change readable.

The Max patch (Max 8.5 and later, no third-party externals) does the sample-exact audio
with MSP objects and leaves the protocol to ``sideman.js`` in a ``[js]`` object; the design
is explained in the patch's own comments and at the top of ``sideman.js``. The Pure Data
patch (vanilla, 0.51 and later) does everything with vanilla objects; see ``PD_DESIGN``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
RING = 1048576  # frames of every ring buffer; sideman.js and sideman.pd use the same number
STEMS = ("bass", "drums", "guitar", "piano")


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
        "sfplay~": (2, 2, ["signal", "bang"]),
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
        if maxclass not in ("comment", "panel"):
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
                varname: str | None = None, name: str | None = None) -> str:
        return self.ui("message", x, y, w or max(30.0, 7.0 * len(text) + 14.0), 22,
                       name=name, varname=varname, text=text)

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
            "openinpresentation": 0,
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
    "file": "file: input source, off = the live input (adc~ 1), on = the sound file.",
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
    "connected": "connected: 1 while the server answers.",
    "latency": "latency: ms from the end of a hop's input to the last chunk of its output.",
    "slack": "slack: ms to spare between a step's last chunk and the moment it plays "
             "(negative = late).",
    "misses": "misses: steps whose output was not complete when it had to play.",
    "lost": "lost: chunks that never arrived before their time.",
    "info": "info: the latest message from the patch or the server.",
}


def build_max() -> tuple[dict, dict]:
    """The main patch and its help patch."""
    p = MaxPatcher(rect=(40.0, 60.0, 1280.0, 900.0))
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
    c("replyport", 500, y + 25, 70)
    p.ui("number", 570, y + 25, 60, varname="replyport", minimum=1, maximum=65535)
    p.obj("loadmess 7401", 640, y + 25, name="lm_replyport")
    p.obj("prepend replyport", 570, y + 80, name="pre_replyport")
    p.message("connect", 760, y + 25, varname="connect")
    p.message("disconnect", 830, y + 25, varname="disconnect")
    p.message("reset", 920, y + 25, varname="reset")
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
        p.ui(kind, x, y + 45, width, varname=label)
        p.obj(f"loadmess {default}", x, y + 72, name=f"lm_{label}")
        p.obj(f"prepend {label}", x, y + 97, name=f"pre_{label}")
        p.connect(f"lm_{label}", 0, label)
        p.connect(label, 0, f"pre_{label}")
        x += width + 60
    c("stems", 700, y + 25, 60)
    for i, stem in enumerate(STEMS):
        sx = 700 + 75 * i
        p.ui("toggle", sx, y + 45, 22, 22, varname=f"stem_{stem}")
        c(stem, sx + 24, y + 45, 50)
        p.obj(f"prepend stem {stem}", sx, y + 97, name=f"pre_stem_{stem}")
        p.connect(f"stem_{stem}", 0, f"pre_stem_{stem}")
    p.obj("loadmess 1", 775, y + 72, name="lm_drums")
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
    p.obj("route connected latency slack misses lost info", 20, y + 25, 420, name="route")
    p.connect("js", 2, "route")
    for i, (key, kind) in enumerate((("connected", "number"), ("latency", "flonum"),
                                     ("slack", "flonum"), ("misses", "number"),
                                     ("lost", "number"))):
        sx = 20 + 85 * i
        p.ui(kind, sx, y + 55, 60, varname=key)
        c(key + (" ms" if kind == "flonum" else ""), sx, y + 80, 80)
        p.connect("route", i, key)
    p.obj("prepend set", 450, y + 55, name="pre_set")
    p.message("not connected", 450, y + 85, 400, varname="info")
    p.connect("route", 5, "pre_set")
    p.connect("pre_set", 0, "info")

    # -- audio --------------------------------------------------------------------------
    y = 660
    c("5. audio: the sample clock [count~] drives everything, so input and output stay "
      "sample-aligned", 20, y - 10, 900, fontface=1)
    c("Input: count~ gives every sample its absolute position; poke~ writes the input at "
      "slot (count % 1048576) of buffer~ sideman.in, where sideman.js reads it. Output: each "
      "stem's buffer~ has 3 channels written by sideman.js: 1 tail (direct samples), 2 head "
      "(the first xfade samples of a step), 3 gain (crossfade gain, 0 elsewhere). index~ "
      "reads them at slot ((count + 1048576 - delay) % 1048576) and the stem plays "
      "tail + gain * (head - tail): the crossfade of PROTOCOL.md, computed once, whatever "
      "order the chunks came in. The offset comes from sideman.js (outlet 4).",
      20, y + 10, 1200, lines=3)
    y = 730
    p.obj("adc~ 1", 20, y, name="adc")
    p.obj("sfplay~ 1", 90, y, name="sfplay")
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
    p.connect("sfplay", 0, "selector", 2)
    p.obj("*~ 1.", 20, y + 60, name="in_gain")
    p.ui("flonum", 70, y + 60, 50, varname="input_gain")
    c("input_gain", 125, y + 60, 80)
    p.obj("loadmess 1.", 125, y + 85, name="lm_input_gain")
    p.connect("selector", 0, "in_gain")
    p.connect("lm_input_gain", 0, "input_gain")
    p.connect("input_gain", 0, "in_gain", 1)
    p.obj("count~ 0 0 1 1", 280, y, name="count")
    p.obj(f"%~ {RING}", 280, y + 30, name="in_slot")
    p.obj("poke~ sideman.in", 20, y + 120, name="poke")
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
    p.ui("flonum", 70, y + 150, 50, varname="monitor")
    c("monitor", 125, y + 150, 60)
    p.connect("in_gain", 0, "monitor_gain")
    p.connect("monitor", 0, "monitor_gain", 1)
    p.obj("dac~ 1 2", 20, y + 230, name="dac")
    p.connect("monitor_gain", 0, "dac", 0)
    p.connect("monitor_gain", 0, "dac", 1)

    # buffers, sized in samples once the patch has loaded
    p.obj("loadbang", 1000, y - 30, name="loadbang")
    p.message(f"sizeinsamps {RING} 1", 1000, y, name="size_in")
    p.obj("buffer~ sideman.in", 1000, y + 30, name="buf_in")
    p.connect("loadbang", 0, "size_in")
    p.connect("size_in", 0, "buf_in")
    p.message(f"sizeinsamps {RING} 3", 1000, y + 60, name="size_stems")
    p.connect("loadbang", 0, "size_stems")

    for i, stem in enumerate(STEMS):
        sx = 200 + 200 * i
        sy = y + 65
        for ch in (1, 2, 3):
            p.obj(f"index~ sideman.{stem} {ch}", sx, sy + 25 * (ch - 1), 150,
                  name=f"idx_{stem}_{ch}")
            p.connect("play_slot", 0, f"idx_{stem}_{ch}")
        p.obj("-~", sx, sy + 80, name=f"minus_{stem}")      # head - tail
        p.obj("*~", sx, sy + 105, name=f"times_{stem}")     # gain * (head - tail)
        p.obj("+~", sx, sy + 130, name=f"plus_{stem}")      # tail + gain * (head - tail)
        p.obj("*~ 1.", sx, sy + 160, name=f"gain_{stem}_sig")
        p.ui("flonum", sx + 50, sy + 160, 50, varname=f"gain_{stem}")
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
        p.connect(f"gain_{stem}_sig", 0, "dac", 0)
        p.connect(f"gain_{stem}_sig", 0, "dac", 1)
        p.obj(f"buffer~ sideman.{stem}", 1000, y + 90 + 25 * i, name=f"buf_{stem}")
        p.connect("size_stems", 0, f"buf_{stem}")

    main = p.to_json()
    varnames = {b["box"]["varname"] for b in p.boxes if "varname" in b["box"]}
    if varnames != set(CONTROLS):
        raise ValueError(f"controls without help text: {sorted(varnames - set(CONTROLS))}; "
                         f"help text without control: {sorted(set(CONTROLS) - varnames)}")
    return main, build_max_help()


def build_max_help() -> dict:
    h = MaxPatcher(rect=(60.0, 80.0, 900.0, 860.0))
    h.comment("sideman: getting started", 20, 10, 600, fontsize=18.0)
    steps = [
        "1. Start the server in a terminal: sideman serve (or sideman serve --model clicktrack "
        "to test without a model). It listens on 127.0.0.1:7400.",
        "2. Open sideman.maxpat (click the message below) and turn audio on.",
        "3. Set host and port if the server runs on another computer, choose stems, r and w.",
        "4. Press connect. The status shows connected 1 and the model's name.",
        "5. Play. The generated parts come back a hop later, in time with you; raise delay if "
        "the status counts misses.",
    ]
    for i, text in enumerate(steps):
        h.comment(text, 20, 45 + 34 * i, 860, lines=2)
    h.message("load sideman.maxpat", 20, 220, name="open_main")
    h.obj("pcontrol", 20, 250, name="pcontrol")
    h.connect("open_main", 0, "pcontrol")
    h.comment("The controls of sideman.maxpat:", 20, 285, 400, fontface=1)
    for i, text in enumerate(CONTROLS.values()):
        h.comment(text, 20, 310 + 16 * i, 860)
    return h.to_json()


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
    }


def main() -> None:
    for path, text in outputs().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
