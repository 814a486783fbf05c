/*
 * sideman.js: the protocol side of sideman.maxpat, for Max's [js] object (Max 8.5 and later).
 *
 * The wire contract is docs/PROTOCOL.md; this script mirrors the reference client
 * (client/core.py) in the subset of JavaScript that Max 8's [js] runs (ES5: var, function,
 * no let/const/arrow functions/classes).
 *
 * How the patch and this script share the work
 *   - The signal side is sample-exact and needs no script: [count~] is the sample clock.
 *     The input is written by [poke~ ---sideman.in] at slot (count % RING). Each generated
 *     stem lives in a 3-channel [buffer~ ---sideman.<stem>] ring (--- is replaced by Max for
 *     Live with the device's number, so copies do not share buffers; this script cannot see
 *     it, so the patch sends the names at load: "buffers IN BASS DRUMS GUITAR PIANO",
 *     "sideman.in" and "sideman.<stem>" until then): channel 1 "tail" (the direct
 *     samples of each step's output), channel 2 "head" (the first xfade samples of a step's
 *     output, which overlap the previous region) and channel 3 "gain" (the crossfade gain g of
 *     PROTOCOL.md "Writing chunks", 0 outside crossfades). The patch plays each stem as
 *     tail + gain * (head - tail) with [index~] at slot ((count + RING - delay) % RING), so a
 *     generated sample at position p sounds exactly `delay` samples after the input sample at
 *     position p was captured: input and output stay sample-aligned.
 *   - [snapshot~ 5] reports the clock every 5 ms ("tick <count>"). On each tick the script
 *     sends the newly captured input (read with Buffer.peek) as /sideman/audio messages with
 *     absolute positions, a /sideman/mark at each hop boundary, zeroes the ring slots that
 *     have just been played (so the ring is clean when it comes round again) and retires
 *     finished steps for the status display.
 *   - Returned chunks are written with Buffer.poke into tail, or into head and gain for the
 *     first xfade samples of a step's output. Writes are idempotent, so a duplicate chunk
 *     changes nothing, and the crossfade is computed by the signal chain from what is in the
 *     ring, so it happens exactly once whatever the arrival order. A final (final 1) chunk
 *     overwrites the quick (final 0) chunk with the same step and index; a quick chunk that
 *     arrives after its final one is ignored.
 *
 * Position 0 of a session is the clock value `origin` when streaming starts, so positions
 * are `count - origin` and no clock reset is needed; ring slots use the raw count.
 *
 * Numbers on the wire: Max's udpsend turns a Max int into OSC `i` and a float into `f`. A
 * JavaScript number reaches Max as an int when it is a whole number, so positions, session
 * ids and counts (always whole, kept whole with Math.floor/Math.round here) go out as `i`.
 * Samples are floats, except a sample that is exactly 0, 1 or -1 (silence, a full-scale
 * click), which goes out as `i`: the server accepts `i` wherever a number is expected
 * (PROTOCOL.md, Conventions) and the value is exact, so nothing is lost.
 *
 * Replies: Max's udpsend has no outlet and sends from a port of its own, so the hello names
 * a reply port where [udpreceive] listens (PROTOCOL.md, "Reply port").
 *
 * Inlet: every control message (see the function list at the end) and every OSC message
 * from [udpreceive] ("/sideman/... args").
 * Outlets: 0 to [udpsend] (OSC messages, and "host"/"port"), 1 to [udpreceive] ("port"),
 * 2 status for the display ("connected", "latency", "slack", "misses", "lost", "info",
 * "server" (a line of the server's status reply),
 * and "origin" for tests), 3 the playback offset RING - delay for the [+~] before [%~].
 */

// No autowatch: Max would reload the script whenever the file is saved, dropping the session
// in the middle of a performance.
autowatch = 0;
inlets = 1;
outlets = 4;

var RING = 1048576;        // frames of every ring buffer~; the [%~] objects use the same number
var STEM_NAMES = ["bass", "drums", "guitar", "piano"];
var VERSION = 1;
var AUDIO_BLOCK = 512;     // samples per /sideman/audio message (about 2 KB)
var RETRY_MS = 250;        // resend an unanswered hello or set after this
var RETRIES = 20;         // unanswered sets are given up after this many tries
var HELLO_BACKOFF_MS = 5000;  // an unanswered hello is sent ever more rarely, up to this
                              // often, and never given up while connect is on
var SILENCE_MS = 5000;     // no reply for this long while streaming: say hello again
var STATUS_MS = 1000;      // ask the server for its status this often (keeps the session alive)
var TRANSPORT_MS = 2000;   // resend the transport at least this often while it runs
var LATE_SPANS = 256;      // cut (late) output spans remembered for diagnosis
var MAX_DELAY_S = 10;

var cfg = {
    host: "127.0.0.1", port: 7400, replyPort: 7401,
    r: 0.25, w: 1, stems: {drums: 1}, steps: 0, variation: 1.0,
    delayMs: 0, datagram: 4096
};
var clock = {sr: 0, c: -1, t: 0};
var sm = null;             // the session (null when idle)
var writers = {};
var zeros = [];
var inbuf = null;
var bufnames = {input: "sideman.in", stems: {}};  // set by the patch at load (buffers)
var timer = null;
var tr = {tempo: 0, num: 4, state: 0, units: 0, res: 480, beats: 1, sent: null, sentAt: 0,
          clock: null};

setinletassist(0, "controls, tick <count> from [snapshot~], OSC replies from [udpreceive]");
setoutletassist(0, "to [udpsend]");
setoutletassist(1, "to [udpreceive]");
setoutletassist(2, "status for the display");
setoutletassist(3, "playback offset (RING - delay) for [+~]");

// -- helpers ------------------------------------------------------------------------------
function now() {
    return new Date().getTime();
}

function say(text) {
    outlet(2, "info", text);
}

function fail(text) {
    error("sideman: " + text + "\n");
    say(text);
}

// Bind the buffer~ objects (done at connect: the patch sizes them at load time, in an order
// relative to this script that Max does not define). False, with a message, if one is wrong.
function bind() {
    var i, buf, name;
    inbuf = new Buffer(bufnames.input);
    if (inbuf.framecount() !== RING) {
        fail("buffer~ " + bufnames.input + " has " + inbuf.framecount() + " frames, expected "
             + RING);
        return false;
    }
    for (i = 0; i < STEM_NAMES.length; i++) {
        name = bufnames.stems[STEM_NAMES[i]] || "sideman." + STEM_NAMES[i];
        buf = new Buffer(name);
        if (buf.framecount() !== RING || buf.channelcount() !== 3) {
            fail("buffer~ " + name + " has " + buf.framecount() + " frames and "
                 + buf.channelcount() + " channels, expected " + RING + " and 3");
            return false;
        }
        writers[STEM_NAMES[i]] = {buf: buf, finals: {}, seen: {}};
    }
    if (zeros.length === 0) {
        for (i = 0; i < 4096; i++) {
            zeros.push(0.0);
        }
    }
    return true;
}

function delaySamples() {
    if (clock.sr <= 0) {
        return 0;
    }
    return Math.round(cfg.delayMs * clock.sr / 1000);
}

function sendOffset() {
    outlet(3, RING - delaySamples());
}

// Client-clock position of a model-clock position (ClockMap.to_client: half up, exact).
function toClient(modelPosition) {
    var mr = sm.modelRate, cr = sm.clientRate;
    return Math.floor((2 * modelPosition * cr + mr) / (2 * mr));
}

function hopModel() {
    var frames = Math.max(1, Math.round(sm.r * sm.windowFrames));
    return frames * sm.hopLength;
}

function captureOf(m) {
    return toClient(m * sm.hopModel);
}

function clockNow() {
    // The clock now, from the last tick and the wall time since (for latency figures only).
    return clock.c + (now() - clock.t) * clock.sr / 1000;
}

function osc(address, args) {
    outlet(0, [address].concat(args));
}

function session(address, args) {
    osc(address, [sm.session, sm.token].concat(args || []));
}

// -- controls -----------------------------------------------------------------------------
// "buffers IN BASS DRUMS GUITAR PIANO": the buffer~ names as the patch resolved them (Max
// for Live replaces --- with the device's number); used from the next connect on.
function buffers() {
    var names = arrayfromargs(arguments), i;
    if (names.length !== STEM_NAMES.length + 1) {
        fail("buffers needs " + (STEM_NAMES.length + 1) + " names, got " + names.length);
        return;
    }
    bufnames.input = String(names[0]);
    for (i = 0; i < STEM_NAMES.length; i++) {
        bufnames.stems[STEM_NAMES[i]] = String(names[i + 1]);
    }
}

function loadbang() {
    outlet(1, "port", cfg.replyPort);
    outlet(0, "host", cfg.host);
    outlet(0, "port", cfg.port);
    outlet(2, "connected", 0);
    say("not connected");
}

function samplerate(sr) {
    var old = clock.sr;
    clock.sr = sr;
    sendOffset();
    if (sm !== null && old > 0 && Math.round(sr) !== sm.clientRate) {
        say("sample rate changed: connecting again");
        disconnect();
        connect();
    }
}

function host(h) {
    cfg.host = String(h);
    outlet(0, "host", cfg.host);
}

function port(p) {
    cfg.port = Math.floor(p);
    outlet(0, "port", cfg.port);
}

function replyport(p) {
    cfg.replyPort = Math.floor(p);
    outlet(1, "port", cfg.replyPort);
    if (sm !== null && sm.phase !== "hello") {
        session("/sideman/resume", [sm.clientRate, cfg.replyPort]);
    }
}

function connect() {
    if (!bind()) {
        return;
    }
    if (clock.sr <= 0 || clock.c < 0) {
        fail("turn audio on before connecting (the sample clock is not running)");
        return;
    }
    if (sm !== null) {
        disconnect();
    }
    sm = {phase: "hello", nonce: Math.floor(Math.random() * 2147483646) + 1, tries: 0,
          clientRate: Math.round(clock.sr), pending: {}, acks: {}, allowed: {},
          heard: now(), counts: {received: 0, duplicate: 0, stale: 0, quickIgnored: 0,
                                 lateSamples: 0, misses: 0, lost: 0},
          lateSpans: [], steps: {}, firstStep: 0};
    sendHello();
    startTimer();
    say("connecting to " + cfg.host + ":" + cfg.port);
}

function sendHello() {
    osc("/sideman/hello", [VERSION, sm.clientRate, sm.nonce, "max", cfg.replyPort]);
}

function disconnect() {
    if (sm === null) {
        return;
    }
    if (sm.session !== undefined) {
        session("/sideman/bye");
    }
    sm = null;
    stopTimer();
    outlet(2, "connected", 0);
    say("disconnected");
}

function reset() {
    if (sm === null || sm.phase !== "streaming") {
        return;
    }
    session("/sideman/reset");
    startStreaming();   // positions start again at 0 from the current clock
    sm.firstStep = Infinity;   // chunks of older steps may still come: none until the ack
}

function r(value) {
    cfg.r = value;
    setting("r", [value]);
}

function w(value) {
    cfg.w = Math.floor(value);
    setting("w", [cfg.w]);
}

function stem(name, on) {
    name = String(name);
    if (STEM_NAMES.indexOf(name) < 0) {
        fail("unknown stem " + name + "; allowed: " + STEM_NAMES.join(" "));
        return;
    }
    if (on) {
        cfg.stems[name] = 1;
    } else {
        delete cfg.stems[name];
    }
    setting("stems", stemList());
}

function steps(n) {
    cfg.steps = Math.floor(n);
    if (cfg.steps > 0) {
        setting("steps", [cfg.steps]);
    }
}

function variation(v) {
    cfg.variation = v;
    setting("variation", [v]);
}

function delay(ms) {
    cfg.delayMs = Math.max(0, Math.min(ms, MAX_DELAY_S * 1000));
    sendOffset();
    setting("delay", [delaySamples()]);
}

function datagram(bytes) {
    cfg.datagram = Math.floor(bytes);
    setting("datagram", [cfg.datagram]);
}

function stemList() {
    var out = [], i;
    for (i = 0; i < STEM_NAMES.length; i++) {
        if (cfg.stems[STEM_NAMES[i]]) {
            out.push(STEM_NAMES[i]);
        }
    }
    return out;
}

// A setting changed by the performer: sent at once when a session is open.
function setting(key, values) {
    if (sm === null || sm.session === undefined) {
        return;
    }
    if (key === "stems" && values.length === 0) {
        fail("choose at least one stem");
        return;
    }
    request(key, values);
}

function request(key, values) {
    sm.pending[key] = {values: values, tries: 0};
    session("/sideman/set", [key].concat(values));
}

// The settings requested after the welcome, each once, r and w in the order that keeps
// (w + 2) r <= 1 at every point (ClientSettings.requests in client/core.py).
function requests() {
    var current = sm.acks.w ? sm.acks.w[0] : 1;
    var out = [], list = stemList();
    if (cfg.w <= current) {
        out.push(["w", [cfg.w]], ["r", [cfg.r]]);
    } else {
        out.push(["r", [cfg.r]], ["w", [cfg.w]]);
    }
    out.push(["stems", list.length ? list : ["drums"]]);
    if (cfg.steps > 0) {
        out.push(["steps", [cfg.steps]]);
    }
    out.push(["variation", [cfg.variation]], ["datagram", [cfg.datagram]],
             ["delay", [delaySamples()]], ["realtime", [1]], ["refine", [1]]);
    return out;
}

// -- timers -------------------------------------------------------------------------------
function startTimer() {
    stopTimer();
    timer = new Task(onTimer, this);
    timer.interval = RETRY_MS;
    timer.repeat();
}

function stopTimer() {
    if (timer !== null) {
        timer.cancel();
        timer = null;
    }
}

function onTimer() {
    var key, t = now();
    if (sm === null) {
        return;
    }
    if (sm.phase === "hello") {
        // A server restart takes longer than any fixed number of tries: keep saying hello,
        // every 250 ms for 5 s, then less and less often (up to every 5 s), until an answer
        // comes or the performer presses disconnect.
        sm.tries += 1;
        if (sm.tries === RETRIES) {
            fail("no answer from " + cfg.host + ":" + cfg.port + " (is sideman serve running? "
                 + "is the reply port " + cfg.replyPort + " free and not blocked?): still "
                 + "trying");
        }
        if (sm.tries >= RETRIES && t < (sm.helloAt || 0) + Math.min(HELLO_BACKOFF_MS,
                RETRY_MS * Math.pow(2, (sm.tries - RETRIES) / 4))) {
            return;
        }
        sm.helloAt = t;
        sendHello();
        return;
    }
    for (key in sm.pending) {
        if (sm.pending.hasOwnProperty(key)) {
            sm.pending[key].tries += 1;
            if (sm.pending[key].tries > RETRIES) {
                fail("no ack for set " + key);
                delete sm.pending[key];
            } else {
                session("/sideman/set", [key].concat(sm.pending[key].values));
            }
        }
    }
    if (sm.phase === "settings" && !sm.requested && t - sm.welcomeAt >= RETRY_MS) {
        sendRequests();
    }
    if (sm.phase === "settings" && sm.requested && emptyPending()) {
        startStreaming();
    }
    if (sm.phase === "streaming") {
        if (t - sm.heard > SILENCE_MS) {
            say("the server went silent: connecting again");
            outlet(2, "connected", 0);
            sm.phase = "hello";
            sm.session = undefined;
            sm.tries = 0;
            sm.nonce += 1;
            sendHello();
            return;
        }
        if (t - (sm.statusAt || 0) >= STATUS_MS) {
            sm.statusAt = t;
            session("/sideman/status");
        }
    }
}

function emptyPending() {
    var key;
    for (key in sm.pending) {
        if (sm.pending.hasOwnProperty(key)) {
            return false;
        }
    }
    return true;
}

// -- streaming ----------------------------------------------------------------------------
function startStreaming() {
    var name;
    for (name in writers) {
        if (writers.hasOwnProperty(name)) {
            writers[name].buf.send("clear");
            writers[name].finals = {};
            writers[name].seen = {};
        }
    }
    sm.phase = "streaming";
    sm.origin = clock.c;
    sm.sent = 0;
    sm.lo = 0;
    sm.nextM = 0;
    sm.hopModel = hopModel();
    sm.captures = {};
    sm.steps = {};
    sendOffset();
    sm.shown = {};
    outlet(2, "origin", sm.origin);
    show("connected", 1);
    say(sm.model + ": session " + sm.session + ", r " + sm.r + ", w " + sm.w);
}

function tick(c) {
    var t = now();
    if (c < clock.c && sm !== null && sm.phase === "streaming") {
        clock.c = c;
        clock.t = t;
        say("the audio clock restarted: resetting the session");
        reset();
        return;
    }
    clock.c = c;
    clock.t = t;
    if (sm === null || sm.phase !== "streaming") {
        return;
    }
    sendInput(c - sm.origin, t);
    var played = c - sm.origin - delaySamples();
    clearPlayed(played);
    retireSteps(played);
}

function sendInput(captured, t) {
    var target, next;
    while (sm.sent < captured) {
        next = captureOf(sm.nextM);
        if (next < sm.sent) {
            sm.nextM += 1;
            continue;
        }
        target = Math.min(captured, next);
        sendAudio(sm.sent, target - sm.sent);
        sm.sent = target;
        if (target === next) {
            markAt(next, t);
        }
    }
    if (sm.sent === 0 && captureOf(sm.nextM) === 0) {
        markAt(0, t);
    }
}

function markAt(position, t) {
    session("/sideman/mark", [position]);
    sm.captures[position] = t - (clock.c - sm.origin - position) * 1000 / clock.sr;
    sm.nextM += 1;
}

function sendAudio(position, n) {
    var done = 0, k;
    while (done < n) {
        k = Math.min(AUDIO_BLOCK, n - done);
        session("/sideman/audio", [position + done].concat(readRing(inbuf, 1, position + done, k)));
        done += k;
    }
}

function readRing(buf, channel, position, n) {
    var slot = (sm.origin + position) % RING;
    var first = Math.min(n, RING - slot);
    var out = peek(buf, channel, slot, first);
    if (n > first) {
        out = out.concat(peek(buf, channel, 0, n - first));
    }
    return out;
}

function peek(buf, channel, frame, count) {
    var got = buf.peek(channel, frame, count);
    return typeof got === "number" ? [got] : Array.prototype.slice.call(got);
}

function writeRing(buf, channel, position, values) {
    var slot = (sm.origin + position) % RING;
    var first = Math.min(values.length, RING - slot);
    buf.poke(channel, slot, first === values.length ? values : values.slice(0, first));
    if (values.length > first) {
        buf.poke(channel, 0, values.slice(first));
    }
}

// Zero the ring slots of positions [lo, played): they have been played.
function clearPlayed(played) {
    var name, ch, n, k, done, end = played;
    if (end <= sm.lo) {
        return;
    }
    if (end - sm.lo > RING) {
        sm.lo = end - RING;
    }
    n = end - sm.lo;
    for (name in writers) {
        if (writers.hasOwnProperty(name)) {
            for (ch = 1; ch <= 3; ch++) {
                done = 0;
                while (done < n) {
                    k = Math.min(zeros.length, n - done);
                    writeRing(writers[name].buf, ch, sm.lo + done,
                              k === zeros.length ? zeros : zeros.slice(0, k));
                    done += k;
                }
            }
        }
    }
    sm.lo = end;
}

// -- replies ------------------------------------------------------------------------------
function anything() {
    var a = arrayfromargs(arguments);
    var address = messagename;
    if (sm === null || address.indexOf("/sideman/") !== 0) {
        return;
    }
    if (address === "/sideman/pong") {
        return;
    }
    if (address === "/sideman/welcome") {
        onWelcome(a);
        return;
    }
    if (sm.session === undefined || a[0] !== sm.session) {
        if (address === "/sideman/error" && a[0] === 0) {
            fail("server: " + a[2] + " (error " + a[1] + ")");
        }
        return;
    }
    sm.heard = now();
    if (address === "/sideman/chunk") {
        onChunk(a);
    } else if (address === "/sideman/ack") {
        onAck(String(a[1]), a.slice(2));
    } else if (address === "/sideman/allowed") {
        sm.allowed[String(a[1])] = a.slice(2);
    } else if (address === "/sideman/miss") {
        onMiss(a);
    } else if (address === "/sideman/status") {
        show("connected", 1);
        onStatus(a);
    } else if (address === "/sideman/warning") {
        post("sideman: " + a[1] + "\n");
        say(String(a[1]));
    } else if (address === "/sideman/error") {
        onError(a[1], String(a[2]));
    } else if (address === "/sideman/bye") {
        say("the server closed the session (" + a[1] + ")");
        sm = null;
        stopTimer();
        outlet(2, "connected", 0);
    }
}

function onWelcome(a) {
    if (sm.phase !== "hello") {
        return;   // a repeated welcome (our hello was retried); the session is the same
    }
    sm.session = a[0];
    sm.token = String(a[1]);
    sm.modelRate = a[3];
    sm.hopLength = a[5];
    sm.windowFrames = a[6];
    sm.maxDatagram = a[7];
    sm.model = String(a[8]);
    sm.heard = now();
    sm.phase = "settings";
    sm.acks = {};
    sm.requested = false;
    sm.welcomeAt = now();
}

// The settings are asked for once the acks that follow the welcome have told us the current
// values (the last one is "refine"), or a retry period after the welcome if that ack was lost.
function sendRequests() {
    var list, i;
    if (sm === null || sm.phase !== "settings" || sm.requested) {
        return;
    }
    sm.requested = true;
    list = requests();
    for (i = 0; i < list.length; i++) {
        request(list[i][0], list[i][1]);
    }
}

function onAck(key, values) {
    var pending = sm.pending[key];
    sm.acks[key] = values;
    if (key === "r") {
        sm.r = values[0];
        if (sm.phase === "streaming") {
            regrid();
        }
    } else if (key === "w") {
        sm.w = values[0];
    } else if (key === "reset") {
        sm.firstStep = values[0];
    }
    if (pending !== undefined && ackMatches(key, pending.values, values)) {
        delete sm.pending[key];
        if (sm.phase === "settings" && sm.requested && emptyPending()) {
            startStreaming();
        }
    }
    if (key === "refine" && sm.phase === "settings") {
        sendRequests();
    }
}

function ackMatches(key, asked, got) {
    var i, frames;
    if (key === "r") {   // rounded by the server to whole latent frames
        frames = Math.max(1, Math.round(asked[0] * sm.windowFrames));
        return Math.abs(got[0] - frames / sm.windowFrames) < 1e-6;
    }
    if (key === "variation") {
        return Math.abs(got[0] - asked[0]) < 1e-6;
    }
    if (asked.length !== got.length) {
        return false;
    }
    for (i = 0; i < asked.length; i++) {
        if (String(asked[i]) !== String(got[i])) {
            return false;
        }
    }
    return true;
}

function onError(code, reason) {
    var key;
    fail("server: " + reason + " (error " + code + ")");
    // A refused setting (bad_value, whose reason names the key) is not asked again; the
    // server keeps its previous value.
    for (key in sm.pending) {
        if (sm.pending.hasOwnProperty(key) && code === 4
                && new RegExp("(^|\\W)" + key + "(=|\\s)").test(reason)) {
            delete sm.pending[key];
        }
    }
}

// After a change of r the step grid is the multiples of the new hop (PROTOCOL.md).
function regrid() {
    var m;
    sm.hopModel = hopModel();
    m = Math.floor(sm.sent * sm.modelRate / sm.clientRate / sm.hopModel);
    while (m > 0 && captureOf(m - 1) >= sm.sent) {
        m -= 1;
    }
    while (captureOf(m) < sm.sent) {
        m += 1;
    }
    sm.nextM = m;
}

function onChunk(a) {
    var stem = String(a[1]), step = a[2], start = a[3], xfade = a[4], position = a[5];
    var index = a[6], count = a[7], fin = a[8], samples = a.slice(9);
    var wr = writers[stem], key = step + ":" + index;
    if (wr === undefined || !cfg.stems[stem] || step < sm.firstStep) {
        sm.counts.stale += 1;
        return;
    }
    if (wr.seen[key + ":" + fin]) {
        sm.counts.duplicate += 1;
        return;
    }
    wr.seen[key + ":" + fin] = 1;
    if (fin) {
        wr.finals[key] = 1;
    } else if (wr.finals[key]) {
        sm.counts.quickIgnored += 1;
        return;
    }
    sm.counts.received += 1;
    writeChunk(wr, start, xfade, position, samples, stem);
    noteChunk(stem, step, start + xfade, index, count, fin);
}

// PROTOCOL.md "Writing chunks": x[j] plays at p = position + j; p < start + xfade is a
// crossfade sample with g = (p - start + 1) / (xfade + 1).
function writeChunk(wr, start, xfade, position, x, stem) {
    var a = Math.max(position, sm.lo), b = Math.min(position + x.length, sm.lo + RING);
    var h = start + xfade, split, gains, p, cut;
    if (a > position) {
        // Samples whose play time has passed are cut; the last LATE_SPANS cuts are kept
        // (stem, first, end) so a listener or a test can tell where the output went silent.
        cut = Math.min(a, position + x.length);
        sm.counts.lateSamples += cut - position;
        sm.lateSpans.push([stem, position, cut]);
        if (sm.lateSpans.length > LATE_SPANS) {
            sm.lateSpans.shift();
        }
    }
    if (a >= b) {
        return;
    }
    split = Math.min(Math.max(a, h), b);
    if (split > a) {
        gains = [];
        for (p = a; p < split; p++) {
            gains.push((p - start + 1) / (xfade + 1));
        }
        writeRing(wr.buf, 2, a, x.slice(a - position, split - position));
        writeRing(wr.buf, 3, a, gains);
    }
    if (b > split) {
        writeRing(wr.buf, 1, split, x.slice(split - position, b - position));
    }
}

// -- status -------------------------------------------------------------------------------
function stepEntry(step, regionStart) {
    var st = sm.steps[step];
    if (st === undefined) {
        st = sm.steps[step] = {regionStart: regionStart, stems: {}, complete: false,
                               late: false, counted: false};
    }
    return st;
}

function noteChunk(stem, step, regionStart, index, count, fin) {
    var st = stepEntry(step, regionStart), s = st.stems[stem], name, cNow, capture, slack;
    if (s === undefined || (fin && !s.fin)) {
        s = st.stems[stem] = {count: count, got: {}, n: 0, fin: fin};
    }
    if (!s.got[index]) {
        s.got[index] = 1;
        s.n += 1;
    }
    if (st.complete) {
        return;
    }
    for (name in cfg.stems) {
        if (cfg.stems.hasOwnProperty(name)) {
            if (st.stems[name] === undefined || st.stems[name].n < st.stems[name].count) {
                return;
            }
        }
    }
    st.complete = true;
    cNow = clockNow() - sm.origin;
    slack = (regionStart + delaySamples() - cNow) * 1000 / clock.sr;
    // The step's capture point: w hops before its region, on the grid of captureOf().
    capture = captureOf(Math.round(regionStart * sm.modelRate / sm.clientRate / sm.hopModel)
                        - sm.w);
    outlet(2, "slack", Math.round(slack * 10) / 10);
    if (sm.captures[capture] !== undefined) {
        outlet(2, "latency", Math.round((now() - sm.captures[capture]) * 10) / 10);
        delete sm.captures[capture];
    }
    if (slack < 0) {
        st.late = true;
    }
}

function onMiss(a) {
    var st = stepEntry(a[1], a[2]);
    if (String(a[4]) === "superseded") {
        st.superseded = true;
    }
}

// Steps whose region has been played are retired: a step that was not complete when its
// region started playing is a miss; chunks that never came are lost.
function retireSteps(played) {
    var key, st, hop = toClient(sm.hopModel), name, s, most, missing;
    for (key in sm.steps) {
        if (!sm.steps.hasOwnProperty(key)) {
            continue;
        }
        st = sm.steps[key];
        if (st.regionStart + hop > played) {
            continue;
        }
        if (!st.superseded) {
            most = 0;
            for (name in st.stems) {
                if (st.stems.hasOwnProperty(name)) {
                    most = Math.max(most, st.stems[name].count);
                }
            }
            missing = 0;
            for (name in cfg.stems) {
                if (cfg.stems.hasOwnProperty(name)) {
                    s = st.stems[name];
                    missing += s === undefined ? Math.max(most, 1) : s.count - s.n;
                }
            }
            sm.counts.lost += missing;
            if (st.late || !st.complete) {
                sm.counts.misses += 1;
            }
        }
        delete sm.steps[key];
        pruneSeen(Number(key));
    }
    show("misses", sm.counts.misses);
    show("lost", sm.counts.lost);
}

// The server's own figures (PROTOCOL.md, Status keys), one line for the display: its
// worst recent slack, how long sending a step takes, its misses, the input it lacked and
// the beat grid the model follows (the host's, one tracked in what it hears, or none).
var GRID_SOURCES = ["no grid", "tracked", "host grid"];

function onStatus(a) {
    var i, v = {};
    for (i = 1; i + 1 < a.length; i += 2) {
        v[String(a[i])] = a[i + 1];
    }
    show("server", "server: slack min " + fmtMs(v.slack_min_ms) + ", step "
         + fmtMs(v.step_p50_ms) + ", send " + fmtMs(v.send_p50_ms) + ", misses "
         + (v.misses === undefined ? "?" : v.misses) + ", input lost "
         + (v.lost_in === undefined ? "?" : v.lost_in) + " samples"
         + (v.grid === undefined ? "" : ", " + (GRID_SOURCES[v.grid] || "?")
            + (v.bpm === undefined || v.bpm < 0 ? "" : " " + Math.round(v.bpm) + " bpm")));
}

function fmtMs(value) {
    return value === undefined || value < 0 ? "-" : Math.round(value) + " ms";
}

// Send a status value to the display only when it changed.
function show(key, value) {
    if (sm.shown === undefined) {
        sm.shown = {};
    }
    if (sm.shown[key] !== value) {
        sm.shown[key] = value;
        outlet(2, key, value);
    }
}

function pruneSeen(step) {
    var name, key, wr;
    for (name in writers) {
        if (writers.hasOwnProperty(name)) {
            wr = writers[name];
            for (key in wr.seen) {
                if (wr.seen.hasOwnProperty(key) && Number(key.split(":")[0]) <= step) {
                    delete wr.seen[key];
                }
            }
            for (key in wr.finals) {
                if (wr.finals.hasOwnProperty(key) && Number(key.split(":")[0]) <= step) {
                    delete wr.finals[key];
                }
            }
        }
    }
}

// -- transport (Max's [transport], banged by a [metro]; outlets arrive right to left) -----
// "tr_clock C": the sample clock, read by a [snapshot~] of [count~] banged by the same
// [metro] event just before the [transport] (a [t b b]). With Overdrive and Scheduler in
// Audio Interrupt on, the metro runs in the audio thread between two signal vectors and
// snapshot~ is sample-accurate, so the clock and the transport's position describe the same
// moment. Without it the position is still read at the clock's last value, not estimated
// from the wall time: the error is the scheduler's lag (see README, Tempo).
function tr_clock(c) {
    tr.clock = c;
}

function tr_tempo(v) {
    tr.tempo = v;
}

function tr_timesig(num) {
    tr.num = Math.max(1, Math.floor(num));
}

function tr_state(v) {
    tr.state = v;
}

function tr_resolution(v) {
    tr.res = v > 0 ? v : 480;
}

function tr_units(v) {
    tr.units = v;
}

function tr_beats(v) {
    tr.beats = Math.max(1, Math.floor(v));
}

// The bars outlet fires last: everything else of this report is in.
function tr_bars() {
    var running = tr.state && tr.tempo > 0, key, beat, pos, inBar, t = now();
    var at = tr.clock === null ? clockNow() : tr.clock;  // the clock of this report's event
    tr.clock = null;
    if (sm === null || sm.phase !== "streaming" || clock.sr <= 0) {
        return;
    }
    if (!running) {
        if (tr.sent !== null && tr.sent !== "off") {
            session("/sideman/transport", [0.0, 0, tr.num, 0]);
            tr.sent = "off";
        }
        return;
    }
    key = tr.tempo + "/" + tr.num;
    if (key === tr.sent && t - tr.sentAt < TRANSPORT_MS) {
        return;
    }
    beat = 60 * clock.sr / tr.tempo;
    pos = at - sm.origin - (tr.units / tr.res) * beat;
    inBar = (tr.beats - 1) % tr.num;
    while (pos < 0) {
        pos += beat;
        inBar = (inBar + 1) % tr.num;
    }
    session("/sideman/transport", [tr.tempo, Math.round(pos), tr.num, inBar]);
    tr.sent = key;
    tr.sentAt = t;
}
