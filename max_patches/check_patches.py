"""Check the saved patches: what must hold for sideman to work, not how they look.

The patches are edited in Max and Pure Data and saved there; they are the source of truth.
This script reads them (sideman.maxpat, sideman.pd and their help patches) and reports what
is missing: a required object, an argument, a signal or message path from one object to
another (through cords, subpatch inlets and outlets, send/receive names, values and
arrays), a control's range or parameter settings. Where boxes sit, comments, and extra
boxes are the performer's: they are never checked.

    python max_patches/check_patches.py            # every patch; exit status 1 on a problem
    python max_patches/check_patches.py sideman.pd  # one patch
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEMS = ("bass", "drums", "guitar", "piano")
RING = 1048576


# -- a patch as a graph --------------------------------------------------------------------
@dataclass
class Graph:
    """Boxes (``text``: what a box is, e.g. ``route sideman`` or ``msg stop`` or ``floatatom
    sideman-r-set sideman-r``) and the directed edges a message or signal can take."""

    text: dict[object, str] = field(default_factory=dict)
    edges: dict[object, set[tuple[int, object]]] = field(default_factory=lambda: defaultdict(set))

    def link(self, a: object, outlet: int, b: object) -> None:
        self.edges[a].add((outlet, b))

    def find(self, pattern: str) -> list[object]:
        rx = re.compile(pattern)
        return [node for node, text in self.text.items() if rx.fullmatch(text)]

    def reaches(self, source: str | set, target: str | set, outlet: int | None = None) -> bool:
        """Whether a box matching ``source`` (from ``outlet`` only, if given) reaches a box
        matching ``target`` (patterns, or sets of boxes)."""
        targets = set(self.find(target)) if isinstance(target, str) else target
        sources = self.find(source) if isinstance(source, str) else source
        todo = [b for a in sources for o, b in self.edges[a]
                if outlet is None or o == outlet]
        seen: set[object] = set()
        while todo:
            node = todo.pop()
            if node in targets:
                return True
            if node in seen:
                continue
            seen.add(node)
            todo.extend(b for _, b in self.edges[node])
        return False


def name_links(g: Graph, senders: dict, receivers: dict, shared: dict) -> None:
    """Join senders of a name to its receivers through one node per name; ``shared`` boxes
    (values, arrays read and written by expr) both send and receive."""
    for kind, table in (("out", senders), ("in", receivers), ("both", shared)):
        for name, nodes in table.items():
            if name in ("-", "empty"):  # Pd's "no name"
                continue
            hub = ("name", name)
            for node in nodes:
                if kind in ("out", "both"):
                    g.link(node, -1, hub)
                if kind in ("in", "both"):
                    g.link(hub, -1, node)


# -- Pure Data -----------------------------------------------------------------------------
PD_SEND = {"s", "send"}
PD_RECEIVE = {"r", "receive"}
PD_VALUE = {"v", "value"}
PD_ARRAY_WRITE = {"tabwrite", "tabwrite~", "tabsend~"}
PD_ARRAY_READ = {"tabread", "tabread~", "tabread4~", "tabplay~", "tabreceive~"}


def pd_records(text: str) -> list[list[str]]:
    """Pd's records (it wraps long ones over several lines): split at unescaped semicolons."""
    words = (re.split(r"(?<!\\)\s+", r.strip()) for r in re.split(r"(?<!\\);\s*\n", text))
    return [w for w in words if len(w) >= 2]


#: Names in sideman.pd end in _$0 (local to a copy: Pd saves it as _\$0); the checks below
#: name them without it. Only these are global: the control bus, the events other patches
#: may listen to, and Pd itself.
LOCAL = "_\\$0"
PD_GLOBAL = {"sideman", "sideman-streaming", "sideman-heard-chunk", "sideman-loaded", "pd"}


@dataclass
class PdBox:
    canvas: int
    index: int
    kind: str  # obj, msg, floatatom, symbolatom, text, pd
    tokens: list[str]  # after the coordinates, local names without their _$0
    x: int
    y: int
    raw: list[str] = field(default_factory=list)  # as saved


def pd_parse(text: str) -> tuple[list[PdBox], list[tuple[int, int, int, int, int]], dict]:
    """Boxes, cords (canvas, a, outlet, b, inlet) and, per canvas, its parent box and its
    graph-on-parent area (``coords``)."""
    boxes: list[PdBox] = []
    cords: list[tuple[int, int, int, int, int]] = []
    canvases: dict[int, dict] = {}
    stack: list[int] = []
    counts: dict[int, int] = defaultdict(int)
    for tokens in pd_records(text):
        head, kind = tokens[0], tokens[1]
        if head == "#N" and kind == "canvas":
            number = len(canvases)
            canvases[number] = {"parent": stack[-1] if stack else None, "box": None,
                                "coords": None}
            stack.append(number)
            continue
        if head != "#X":
            continue
        here = stack[-1]
        if kind == "restore":
            child = stack.pop()
            parent = stack[-1]
            box = PdBox(parent, counts[parent], "pd", tokens[4:], int(tokens[2]), int(tokens[3]),
                        tokens[4:])
            canvases[child]["box"] = box
            boxes.append(box)
            counts[parent] += 1
        elif kind in ("obj", "msg", "floatatom", "symbolatom", "text", "listbox"):
            if kind == "obj" and len(tokens) < 5:  # an empty object box
                tokens = [*tokens, ""]
            boxes.append(PdBox(here, counts[here], kind,
                               [w.replace(LOCAL, "") for w in tokens[4:]], int(tokens[2]),
                               int(tokens[3]), tokens[4:]))
            counts[here] += 1
        elif kind == "connect":
            cords.append((here, *(int(t) for t in tokens[2:6])))
        elif kind == "coords" and len(tokens) >= 11:
            canvases[here]["coords"] = [int(float(t)) for t in tokens[6:11]]
    return boxes, cords, canvases


def pd_describe(box: PdBox) -> str:
    t = box.tokens
    if box.kind in ("floatatom", "symbolatom", "listbox"):
        return f"{box.kind} {t[5]} {t[6]}"  # receive, send
    if box.kind == "msg":
        return "msg " + " ".join(t)
    if box.kind == "pd":
        return "pd " + " ".join(t[1:])
    return " ".join(t)


def pd_graph(text: str) -> tuple[Graph, list[PdBox], dict]:
    boxes, cords, canvases = pd_parse(text)
    g = Graph()
    key = {(b.canvas, b.index): b for b in boxes}
    senders: dict = defaultdict(list)
    receivers: dict = defaultdict(list)
    shared: dict = defaultdict(list)
    sends = {(b.canvas, b.index) for b in boxes if b.kind == "obj"
             and b.tokens == ["s", "sideman-fwd"]}
    forwarded = {(c, a) for c, a, _, b, _ in cords if (c, b) in sends}
    for b in boxes:
        node = (b.canvas, b.index)
        g.text[node] = pd_describe(b)
        t = b.tokens
        name = t[0] if t else ""
        arg = t[1] if len(t) > 1 else None
        if b.kind == "obj":
            if name in PD_SEND and arg:
                senders[arg].append(node)
            elif name in PD_RECEIVE and arg:
                receivers[arg].append(node)
            elif name in PD_VALUE and arg:
                shared[arg].append(node)
            elif name in PD_ARRAY_WRITE and arg:
                senders[arg].append(node)
            elif name in PD_ARRAY_READ and arg:
                receivers[arg].append(node)
            elif name == "array" and arg in ("set", "get", "size") and len(t) > 2:
                (senders if arg == "set" else receivers)[t[2]].append(node)
            elif name == "expr" or name == "expr~":
                for word in set(re.findall(r"[A-Za-z][\w-]*", " ".join(t[1:]))):
                    shared[word].append(node)
            elif name == "tgl" and len(t) > 4:
                senders[t[3]].append(node)
                receivers[t[4]].append(node)
            elif name == "bng" and len(t) > 6:
                senders[t[5]].append(node)
                receivers[t[6]].append(node)
            elif name == "vu" and len(t) > 3:
                receivers[t[3]].append(node)
        elif b.kind in ("floatatom", "symbolatom", "listbox") and len(t) > 6:
            receivers[t[5]].append(node)
            senders[t[6]].append(node)
        elif b.kind == "msg":
            for part in re.split(r"\\;", " ".join(t))[1:]:
                words = part.split()
                if words:
                    senders[words[0]].append(node)
            if node in forwarded:  # "name args, ..." out of the box into the forwarder
                for part in re.split(r"\\,", " ".join(t)):
                    if part.split():
                        senders[part.split()[0]].append(node)
        elif b.kind == "pd":
            pass
    name_links(g, senders, receivers, shared)
    for canvas, a, outlet, b, _inlet in cords:
        if (canvas, a) in key and (canvas, b) in key:
            g.link((canvas, a), outlet, (canvas, b))
    # A subpatch's box feeds its inlets; its outlets feed the box.
    for number, info in canvases.items():
        box = info["box"]
        if box is None:
            continue
        for b in boxes:
            if b.canvas == number and b.kind == "obj" and b.tokens[0] in ("inlet", "inlet~"):
                g.link((box.canvas, box.index), -1, (b.canvas, b.index))
            if b.canvas == number and b.kind == "obj" and b.tokens[0] in ("outlet", "outlet~"):
                g.link((b.canvas, b.index), -1, (box.canvas, box.index))
    return g, boxes, canvases


#: What sideman.pd must have: (source, target, what it means). Patterns are regular
#: expressions matched against the whole of a box's text.
PD_PATHS = [
    (r"netsend -u -b", r"oscparse", "the server's replies are parsed"),
    (r"oscparse", r"route welcome ack allowed chunk miss status warning error bye",
     "the parsed replies reach the reply router"),
    (r"route welcome ack allowed chunk miss status warning error bye", r"array set( .*)?",
     "the chunks reach the ring writer"),
    (r"adc~ 1", r"tabwrite~ sideman-in", "the microphone reaches the input ring"),
    (r"tabplay~ sideman-file", r"tabwrite~ sideman-in", "the file reaches the input ring"),
    (r"soundfiler", r"tabplay~ sideman-file", "the file is read where it is played"),
    (r"tabwrite~ sideman-in", r"oscformat -f isi sideman audio",
     "the input ring is sent as audio"),
    (r"oscformat -f isi sideman audio", r"netsend -u -b", "the audio messages are sent"),
    (r"oscformat -f iiis sideman hello", r"netsend -u -b", "the hello is sent"),
    (r"oscformat -f iss sideman set", r"netsend -u -b", "the settings are sent"),
    *[(rf"tabread~ sideman-{s}-{part}", r"dac~ 1 2", f"the {s} ring ({part}) is played")
      for s in STEMS for part in ("tail", "head", "gain")],
    *[(rf"tabread~ sideman-{s}-tail", rf"s sideman-level-{s}", f"the {s} level is metered")
      for s in STEMS],
    (r"tabwrite~ sideman-in", r"s sideman-level-in", "the input level is metered"),
    *[(rf"floatatom \S+ sideman-{key}", r"oscformat -f iss sideman set",
       f"the {key} control is sent to the server") for key in ("r", "w", "steps",
                                                                 "variation", "delay")],
    *[(rf"tgl .* sideman-stem-{s} .*", r"oscformat -f iss sideman set",
       f"the {s} toggle is sent to the server") for s in STEMS],
    *[(rf"floatatom \S+ sideman-gain-{s}", r"dac~ 1 2", f"the {s} gain acts on the output")
      for s in STEMS],
    (r"bng .* sideman-connect .*", r"oscformat -f iiis sideman hello",
     "the connect button says hello"),
    (r"route welcome ack allowed chunk miss status warning error bye", r"tgl .* "
     r"sideman-show-connected .*", "the connection light follows the session"),
]

#: The live controls' ranges (the Max patch's parameters have the same).
PD_RANGES = {"r": (0.015625, 1.0), "w": (-1.0, 14.0), "steps": (0.0, 64.0),
             "variation": (0.0, 2.0), "delay": (0.0, 10000.0), "input-gain": (0.0, 4.0),
             "monitor": (0.0, 4.0), **{f"gain-{s}": (0.0, 4.0) for s in STEMS}}

PD_OBJECTS = [
    r"netsend -u -b", r"oscparse", r"dac~ 1 2", r"adc~ 1", r"soundfiler",
    *[rf"array define sideman-{s}-{part} {RING}" for s in STEMS
      for part in ("tail", "head", "gain")],
    rf"array define sideman-in {RING}",
]


def pd_names(boxes: list[PdBox]) -> dict[str, str]:
    """Every array, send, receive and value name of the patch as saved: {name: where}."""
    found = {}
    for b in boxes:
        t, what = b.raw, pd_describe(b)
        picks: list[str] = []
        if b.kind == "obj" and t:
            if t[0] in PD_SEND | PD_RECEIVE | PD_VALUE | PD_ARRAY_WRITE | PD_ARRAY_READ:
                picks = t[1:2]
            elif t[0] == "array" and t[1:2] and t[1] in ("define", "set", "get", "size"):
                picks = t[2:3]
            elif t[0] == "tgl":
                picks = t[3:5]
            elif t[0] == "bng":
                picks = t[5:7]
            elif t[0] == "vu":
                picks = t[3:4]
        elif b.kind in ("floatatom", "symbolatom", "listbox"):
            picks = t[5:7]
        elif b.kind == "msg":
            picks = [p.split()[0] for p in re.split(r"\\;", " ".join(t))[1:] if p.split()]
        for name in picks:
            if name not in ("-", "empty"):
                found.setdefault(name, what)
    return found


def check_pd(path: Path) -> list[str]:
    text = path.read_text()
    g, boxes, canvases = pd_graph(text)
    problems = [f"{path.name}: no [{p}]" for p in PD_OBJECTS if not g.find(p)]
    # Two copies in one Pd must not share a buffer, a value or a message.
    for name, where in sorted(pd_names(boxes).items()):
        if not name.endswith(LOCAL) and name not in PD_GLOBAL:
            problems.append(f"{path.name}: [{where}] uses the global name {name} (local names "
                            f"end in _$0)")
    for source, target, meaning in PD_PATHS:
        if not g.find(source):
            problems.append(f"{path.name}: no [{source}] ({meaning})")
        elif not g.find(target):
            problems.append(f"{path.name}: no [{target}] ({meaning})")
        elif not g.reaches(source, target):
            problems.append(f"{path.name}: no path from [{source}] to [{target}]: {meaning}")
    atoms = {b.tokens[6]: b for b in boxes if b.kind == "floatatom" and b.canvas == 0}
    for key, (lo, hi) in PD_RANGES.items():
        atom = atoms.get(f"sideman-{key}")
        if atom is None:
            problems.append(f"{path.name}: no number box sending sideman-{key}")
        elif (float(atom.tokens[1]), float(atom.tokens[2])) != (lo, hi):
            problems.append(f"{path.name}: the {key} box ranges {atom.tokens[1]}..."
                            f"{atom.tokens[2]}, not {lo:g}...{hi:g}")
    # Opened as an abstraction, Pd shows the graph-on-parent area: the controls must be in it.
    area = canvases[0]["coords"]
    if area is None or area[2] not in (1, 2):
        problems.append(f"{path.name}: the top canvas has no graph-on-parent area")
    else:
        w, h, _, x0, y0 = area
        for key in ("connect", "r", "w", "variation", *(f"stem-{s}" for s in STEMS)):
            shown = [b for b in boxes if b.canvas == 0 and re.search(
                rf"(^|\s)sideman-{key}(\s|$)", " ".join(b.tokens))
                and b.kind in ("obj", "floatatom", "symbolatom")]
            if not any(x0 <= b.x < x0 + w and y0 <= b.y < y0 + h for b in shown):
                problems.append(f"{path.name}: the {key} control is outside the "
                                f"graph-on-parent area")
        # Message boxes and comments do not show there: the status needs a number, symbol
        # or list box (or a toggle) that the status reaches.
        shown = {(b.canvas, b.index) for b in boxes if b.canvas == 0
                 and (b.kind in ("floatatom", "symbolatom", "listbox")
                      or (b.kind == "obj" and b.tokens[0] == "tgl"))
                 and x0 <= b.x < x0 + w and y0 <= b.y < y0 + h}
        for key in ("info", "show-connected", "show-latency", "show-slack", "show-misses",
                    "show-lost"):
            if not g.reaches({("name", f"sideman-{key}")}, shown):
                problems.append(f"{path.name}: sideman-{key} is not shown in the "
                                f"graph-on-parent area")
    return problems


# -- Max ------------------------------------------------------------------------------------
MAX_SEND = {"s", "send", "send~", "forward"}
MAX_RECEIVE = {"r", "receive", "receive~"}
MAX_VALUE = {"v", "value", "pv"}
MAX_BUFFER_WRITE = {"poke~", "record~"}
MAX_BUFFER_READ = {"index~", "peek~", "play~", "groove~", "wave~"}


def max_describe(box: dict) -> str:
    cls = box["maxclass"]
    if cls == "newobj":
        return box.get("text", "")
    if cls == "message" and "varname" not in box:
        return "msg " + box.get("text", "")
    if cls == "comment":
        return "comment " + box.get("text", "")
    return f"{cls} @{box['varname']}" if "varname" in box else cls


def max_graph(data: dict) -> tuple[Graph, dict[str, dict]]:
    patcher = data["patcher"]
    by_id = {b["box"]["id"]: b["box"] for b in patcher["boxes"]}
    g = Graph()
    senders: dict = defaultdict(list)
    receivers: dict = defaultdict(list)
    shared: dict = defaultdict(list)
    for node, box in by_id.items():
        g.text[node] = max_describe(box)
        words = box.get("text", "").split() if box["maxclass"] == "newobj" else []
        if len(words) >= 2:
            name, arg = words[0], words[1]
            if name in MAX_SEND or name in MAX_BUFFER_WRITE:
                senders[arg].append(node)
            elif name in MAX_RECEIVE or name in MAX_BUFFER_READ:
                receivers[arg].append(node)
            elif name in MAX_VALUE:
                shared[arg].append(node)
        if box["maxclass"] == "message":
            for part in box.get("text", "").split(";")[1:]:
                if part.split():
                    senders[part.split()[0]].append(node)
    name_links(g, senders, receivers, shared)
    for line in patcher["lines"]:
        (a, outlet), (b, _inlet) = line["patchline"]["source"], line["patchline"][
            "destination"]
        if a in by_id and b in by_id:
            g.link(a, outlet, b)
    return g, by_id


JS = r"js sideman\.js"
#: (source, outlet or None, target, what it means)
MAX_PATHS = [
    (r"udpreceive \d+", None, JS, "the server's replies reach sideman.js"),
    (JS, 0, r"udpsend \S+ \d+", "sideman.js's messages are sent to the server"),
    (JS, 1, r"udpreceive \d+", "sideman.js sets the reply port"),
    (r"count~ 0 0 1 0", None, r"snapshot~ [1-9]\d*", "the sample clock is read"),
    (r"snapshot~ [1-9]\d*", None, r"prepend tick", "the clock readings are ticks"),
    (r"prepend tick", None, JS, "sideman.js hears the sample clock (tick)"),
    (r"count~ 0 0 1 0", None, r"snapshot~ 0", "the clock is read with the transport"),
    (r"metro \d+", None, r"snapshot~ 0", "the transport poll reads the clock in the same "
     "event"),
    (r"snapshot~ 0", None, r"prepend tr_clock", "sideman.js gets the transport's clock"),
    (r"prepend tr_clock", None, JS, "sideman.js gets the transport's clock"),
    (r"loadbang", None, r"dspstate~", "the sample rate is known at load"),
    (r"dspstate~", None, JS, "sideman.js gets the sample rate"),
    (r"loadbang", None, r"msg buffers ---sideman\.in" + "".join(
        rf" ---sideman\.{s}" for s in STEMS), "sideman.js gets the resolved buffer names"),
    (r"msg buffers .*", None, JS, "the buffer names reach sideman.js"),
    (r"adc~ 1", None, r"poke~ ---sideman\.in", "the microphone reaches the input buffer"),
    (r"sfplay~ 2", None, r"poke~ ---sideman\.in", "the file reaches the input buffer"),
    (r"opendialog sound", None, r"sfplay~ 2", "the chosen file is played"),
    (r"opendialog sound", None, r"sfinfo~", "the chosen file's channels are read"),
    (r"sfinfo~", None, r"sfplay~ 2|selector~ .*", "a mono file keeps its level (the mix gain "
     "follows the channel count)"),
    (r"count~ 0 0 1 0", None, rf"%~ {RING}", "the ring position follows the sample clock"),
    (rf"%~ {RING}", None, r"poke~ ---sideman\.in", "the input is written at the clock"),
    (JS, 3, rf"\+~ {RING}", "sideman.js's output delay offsets the read position"),
    *[(rf"index~ ---sideman\.{s} {ch}", None, r"dac~ 1 2",
       f"the {s} buffer (channel {ch}) is played") for s in STEMS for ch in (1, 2, 3)],
    *[(rf"%~ {RING}", None, rf"index~ ---sideman\.{s} {ch}",
       f"the {s} buffer is read at the clock") for s in STEMS for ch in (1, 2, 3)],
    (JS, 2, r"route connected latency slack misses lost info server",
     "the status reaches the displays' router"),
    *[(r"route connected latency slack misses lost info server", None, f"{cls} @{key}",
       f"the {key} display shows the status")
      for cls, key in (("toggle", "connected"), ("message", "latency"), ("message", "slack"),
                       ("message", "misses"), ("message", "lost"), ("message", "info"),
                       ("message", "server"))],
    *[(f"{cls} @{key}", None, JS, f"the {key} control reaches sideman.js")
      for cls, key in (("flonum", "r"), ("number", "w"), ("number", "steps"),
                       ("flonum", "variation"), ("number", "delay"),
                       *(("toggle", f"stem_{s}") for s in STEMS),
                       ("message", "connect"), ("message", "disconnect"))],
    *[(rf"flonum @gain_{s}", None, r"dac~ 1 2", f"the {s} gain acts on the output")
      for s in STEMS],
    (r"metro \d+", None, r"transport", "the transport is polled"),
    (r"transport", None, JS, "sideman.js hears Max's transport"),
    # a parent patch (sideman.maxhelp) drives the patch through its inlet, as the controls do
    *[(r"inlet", None, target, f"the inlet's {key} message reaches the {key} control")
      for key, target in (("open", r"opendialog sound"), ("file", r"toggle @file"),
                          ("play", r"toggle @play"), ("connect", r"message @connect"),
                          ("disconnect", r"message @disconnect"))],
]

#: The live controls: Max parameters (MIDI-mappable, automatable) with a range.
MAX_PARAMETERS = ("r", "w", "steps", "variation", "delay", "input_gain", "monitor",
                  *(f"{kind}_{s}" for kind in ("stem", "gain") for s in STEMS))


def check_max(path: Path) -> list[str]:
    data = json.loads(path.read_text())
    g, by_id = max_graph(data)
    problems = []
    for buffer in ("in", *STEMS):
        channels = 1 if buffer == "in" else 3
        if not g.find(rf"buffer~ ---sideman\.{buffer}( .*)?"):
            problems.append(f"{path.name}: no [buffer~ ---sideman.{buffer}]")
        if not g.find(rf"msg sizeinsamps {RING} {channels}"):
            problems.append(f"{path.name}: no [sizeinsamps {RING} {channels}( message")
    for source, outlet, target, meaning in MAX_PATHS:
        for pattern in (source, target):
            if not g.find(pattern):
                problems.append(f"{path.name}: no [{pattern}] ({meaning})")
                break
        else:
            if not g.reaches(source, target, outlet):
                where = "" if outlet is None else f" outlet {outlet}"
                problems.append(f"{path.name}: no path from [{source}]{where} to "
                                f"[{target}]: {meaning}")
    by_name = {b["varname"]: b for b in by_id.values() if "varname" in b}
    longnames = []
    for name in MAX_PARAMETERS:
        box = by_name.get(name)
        if box is None:
            problems.append(f"{path.name}: no control named {name}")
            continue
        value = box.get("saved_attribute_attributes", {}).get("valueof", {})
        if box.get("parameter_enable") != 1 or not value:
            problems.append(f"{path.name}: {name} is not a parameter (parameter_enable)")
            continue
        lo, hi = value.get("parameter_mmin"), value.get("parameter_mmax")
        initial = value.get("parameter_initial", [None])[0]
        if lo is None or hi is None or not lo < hi:
            problems.append(f"{path.name}: {name} has no parameter range")
        elif box["maxclass"] != "toggle" and (box.get("minimum"), box.get("maximum")) != (lo,
                                                                                        hi):
            problems.append(f"{path.name}: {name}'s box range is not its parameter range "
                            f"{lo}...{hi}")
        elif initial is None or not lo <= initial <= hi:
            problems.append(f"{path.name}: {name} starts outside its range")
        longnames.append(value.get("parameter_longname"))
    if len(set(longnames)) != len(longnames):
        problems.append(f"{path.name}: two parameters share a long name")
    if data["patcher"].get("openinpresentation") != 1:
        problems.append(f"{path.name}: does not open in presentation mode")
    shown = {b.get("varname") for b in by_id.values() if b.get("presentation") == 1}
    hidden = [n for n in (*MAX_PARAMETERS, "connect", "disconnect", "connected", "latency",
                          "info") if n not in shown]
    if hidden:
        problems.append(f"{path.name}: not in the performer's view: {', '.join(hidden)}")
    return problems


def check(path: Path) -> list[str]:
    if path.suffix == ".pd" and path.stem == "sideman":
        return check_pd(path)
    if path.suffix == ".maxpat" and path.stem == "sideman":
        return check_max(path)
    return []


def main(argv: list[str]) -> int:
    paths = [HERE / a if not Path(a).exists() else Path(a) for a in argv] or [
        HERE / "sideman.maxpat", HERE / "sideman.pd"]
    problems = [p for path in paths for p in check(path)]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"ok: {', '.join(p.name for p in paths)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
