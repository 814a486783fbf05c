// Runs max_patches/sideman.js under Node with the Max stand-in (maxjs.js) and a simulation of
// the patch's signal side, for the tests in tests/patches/test_max.py.
//
//   node run_sideman.js live CONFIG.json    stream a file through a live server in real time
//   node run_sideman.js writer CONFIG.json  feed recorded chunks, dump what the patch plays
//
// The signal simulation is what sideman.maxpat does with MSP objects, vector by vector:
// [count~] counts samples; [poke~ ---sideman.in] writes the input at slot (count % RING);
// each stem plays tail + gain * (head - tail) from [index~ ---sideman.<stem> 1|2|3] at slot
// ((count + offset) % RING), offset = RING - delay from the script's outlet 3;
// [snapshot~ 5] sends "tick <count at the start of the last vector>" every 5 ms.
"use strict";

const fs = require("fs");
const path = require("path");
const {JsObject} = require("./maxjs");

const SCRIPT = path.join(__dirname, "..", "sideman.js");
const STEMS = ["bass", "drums", "guitar", "piano"];
const VECTOR = 64;
// The buffer~ names of sideman.maxpat (--- as in plain Max), sent at load as the patch does.
const IN = "---sideman.in";
const stemBuffer = (stem) => `---sideman.${stem}`;
function nameBuffers(js) {
  js.message("buffers", IN, ...STEMS.map(stemBuffer));
}

function makeObject(options) {
  const js = new JsObject(SCRIPT, options);
  js.load([]);
  const ring = js.ctx.RING;
  js.buffer(IN, ring, 1);
  for (const stem of STEMS) js.buffer(stemBuffer(stem), ring, 3);
  nameBuffers(js);
  return js;
}

// What a stem plays at ring slot `slot` (the [index~] / [-~] / [*~] / [+~] chain).
function play(store, slot) {
  const t = store.data[0][slot], h = store.data[1][slot], g = store.data[2][slot];
  return t + g * (h - t);
}

function readF32(file) {
  const raw = fs.readFileSync(file);
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
}

function statusSummary(js) {
  const last = {};
  for (const [key, ...values] of js.status) last[key] = values.length === 1 ? values[0] : values;
  return last;
}

// -- live ---------------------------------------------------------------------------------
function live(cfg) {
  const js = makeObject({network: true, recvBuffer: cfg.recv_buffer || 0});
  const sr = cfg.sample_rate;
  const ring = js.ctx.RING;
  const input = readF32(cfg.input);
  const total = Math.ceil((cfg.seconds + cfg.lead_seconds) * sr) + ring;
  const rec = {};
  for (const stem of cfg.stems) rec[stem] = new Float32Array(Math.ceil((cfg.seconds + cfg.lead_seconds + 2) * sr));
  const inStore = js.buffers.get(IN);

  js.message("replyport", cfg.reply_port);
  js.message("loadbang");
  js.message("host", cfg.server[0]);
  js.message("port", cfg.server[1]);
  js.message("samplerate", sr);
  for (const stem of STEMS) js.message("stem", stem, cfg.stems.includes(stem) ? 1 : 0);
  js.message("r", cfg.r);
  js.message("w", cfg.w);
  js.message("delay", cfg.delay_ms);
  if (cfg.datagram) js.message("datagram", cfg.datagram);

  let c = 0;                 // [count~]
  let nextSnapshot = 0;      // audio time of the next [snapshot~ 5] report (samples)
  let lastVectorStart = 0;
  let connected = false;
  let origin = null;
  let stopAt = null;
  const started = Date.now();

  // The session's position 0 is the clock value when streaming started, which is already in
  // the past when the script reports it: the file starts there, so write its first samples
  // into the ring slots recorded meanwhile (before the script reads them on its next tick).
  js.onStatus = ([key, value]) => {
    if (key !== "origin") return;
    origin = value;
    for (let n = origin; n < c; n++) inStore.data[0][n % ring] = n - origin < input.length ? input[n - origin] : 0;
  };

  function dspUntil(target) {
    const stores = cfg.stems.map((s) => js.buffers.get(stemBuffer(s)));
    while (c + VECTOR <= target) {
      const offset = js.offset === null ? ring : js.offset;
      for (let i = 0; i < VECTOR; i++) {
        const n = c + i;
        let x = 0;
        if (origin !== null && n - origin < input.length) x = input[n - origin];
        inStore.data[0][n % ring] = x;
        const slot = (n + offset) % ring;
        for (let k = 0; k < stores.length; k++) {
          if (n < rec[cfg.stems[k]].length) rec[cfg.stems[k]][n] = play(stores[k], slot);
        }
      }
      lastVectorStart = c;
      c += VECTOR;
      if (c >= nextSnapshot) {
        nextSnapshot += sr * 0.005;
        js.message("tick", lastVectorStart);
      }
    }
  }

  return new Promise((resolve) => {
    function finish(reason) {
      clearInterval(loop);
      // the script's own counters, read before "disconnect" forgets the session
      const counts = js.ctx.sm ? Object.assign({}, js.ctx.sm.counts) : null;
      const lateSpans = js.ctx.sm ? js.ctx.sm.lateSpans.slice() : null;
      js.message("disconnect");
      setTimeout(() => {
        js.close();
        for (const stem of cfg.stems) {
          fs.writeFileSync(`${cfg.output}.${stem}.f32`, Buffer.from(rec[stem].buffer));
        }
        resolve({reason, origin, counter: c, delay_samples: Math.round(cfg.delay_ms * sr / 1000),
                 status: statusSummary(js), counts, lateSpans, errors: js.errors, log: js.log,
                 sent: countSent(js), chunks_in: js.chunksIn,
                 recv_buffer: js.udp.recvBufferSize || null,
                 wall: (Date.now() - started) / 1000});
      }, 100);
    }
    const loop = setInterval(() => {
      try {
        const target = Math.floor((Date.now() - started) / 1000 * sr);
        dspUntil(Math.min(target, total));
        if (!connected && c >= cfg.lead_seconds * sr) {
          js.message("connect");
          connected = true;
        }
        if (origin !== null && stopAt === null) stopAt = origin + Math.ceil(cfg.seconds * sr);
        if (stopAt !== null && c >= stopAt) finish("done");
        else if ((Date.now() - started) / 1000 > cfg.seconds + cfg.lead_seconds + cfg.timeout) {
          finish("timeout");
        }
      } catch (e) {
        clearInterval(loop);
        js.close();
        resolve({reason: "exception", error: String(e.stack || e), errors: js.errors,
                 status: statusSummary(js), log: js.log});
      }
    }, 2);
  });
}

function countSent(js) {
  const counts = {};
  for (const [address] of js.sent) counts[address] = (counts[address] || 0) + 1;
  return counts;
}

// -- writer ---------------------------------------------------------------------------------
// Drive the script through a handshake by messages (no network); returns the js object.
function handshake(cfg) {
  const js = makeObject({network: false, manualTasks: true});
  const session = 4242, token = "00ab00cd00ef0011";
  js.message("samplerate", 44100);
  js.message("tick", cfg.clock);
  for (const stem of STEMS) js.message("stem", stem, cfg.stems.includes(stem) ? 1 : 0);
  js.message("connect");
  const hello = js.sent.find(([a]) => a === "/sideman/hello");
  if (!hello) throw new Error("no hello");
  js.message("/sideman/welcome", session, token, 1, 44100, 44100, 64, cfg.window_frames, 9216,
             "clicktrack");
  for (const [key, value] of [["r", 0.25], ["w", 1], ["stems", "drums"], ["steps", 2],
                              ["seed", 0], ["variation", 1.0], ["xfade", 256],
                              ["datagram", 8192], ["delay", 0], ["realtime", 1], ["refine", 1]]) {
    js.message("/sideman/ack", session, key, value);
  }
  // Answer each set request with the ack a server would send.
  for (let round = 0; round < 3; round++) {
    for (const [address, args] of js.sent.splice(0)) {
      if (address !== "/sideman/set") continue;
      const [, , key, ...values] = args;
      let ack = values;
      if (key === "r") ack = [Math.max(1, Math.round(values[0] * cfg.window_frames)) / cfg.window_frames];
      js.message("/sideman/ack", session, key, ...ack);
    }
  }
  if (statusSummary(js).origin === undefined) {
    throw new Error(`not streaming: ${JSON.stringify(js.status)}`);
  }
  return {js, session};
}

// Feed chunks, dump what the patch plays.
function writer(cfg) {
  const {js, session} = handshake(cfg);
  const ring = js.ctx.RING;
  const origin = statusSummary(js).origin;
  // Play on to position cut_before first: every chunk sample before it arrives too late.
  if (cfg.cut_before) js.message("tick", origin + cfg.cut_before);
  for (const chunk of cfg.chunks) js.message("/sideman/chunk", session, ...chunk);
  const out = {};
  for (const stem of cfg.stems) {
    const store = js.buffers.get(stemBuffer(stem));
    const values = new Float32Array(cfg.length);
    for (let p = 0; p < cfg.length; p++) values[p] = play(store, (origin + p) % ring);
    fs.writeFileSync(`${cfg.output}.${stem}.f32`, Buffer.from(values.buffer));
    out[stem] = `${cfg.output}.${stem}.f32`;
  }
  return {origin, outputs: out, counts: js.ctx.sm.counts, lateSpans: js.ctx.sm.lateSpans,
          errors: js.errors};
}

// Max's [transport] reports (outlets right to left, bars last) while streaming.
function transport(cfg) {
  const {js} = handshake(cfg);
  const origin = statusSummary(js).origin;
  js.sent.splice(0);
  js.message("tick", origin + cfg.position - 64);  // the backlog of input goes out here
  js.message("tick", origin + cfg.position);
  const report = (state) => {
    // the patch's [snapshot~] of the clock in the same event (cfg.clock_at: samples after
    // the last tick); without it the script reads the clock as of now
    if (cfg.clock_at !== undefined) js.message("tr_clock", origin + cfg.position + cfg.clock_at);
    js.message("tr_state", state);
    js.message("tr_timesig", cfg.num, 4);
    js.message("tr_tempo", cfg.bpm);
    js.message("tr_resolution", 480);
    js.message("tr_units", cfg.units);
    js.message("tr_beats", cfg.beats);
    js.message("tr_bars", 7);
  };
  report(1);
  report(1);  // the same again at once: not resent
  report(0);  // stopped: bpm 0 clears it
  return {sent: js.sent.filter(([a]) => a === "/sideman/transport").map(([, args]) => args),
          errors: js.errors};
}

// -- misconfigured patch ---------------------------------------------------------------------
// A buffer~ of the wrong size or channel count: connect must refuse with a clear message.
function badbuffer(cfg) {
  const js = new JsObject(SCRIPT, {network: false, manualTasks: true});
  js.load([]);
  const ring = js.ctx.RING;
  js.buffer(IN, ring, 1);
  for (const stem of STEMS) {
    js.buffer(stemBuffer(stem), stem === cfg.stem ? cfg.frames : ring,
              stem === cfg.stem ? cfg.channels : 3);
  }
  nameBuffers(js);
  js.message("samplerate", 44100);
  js.message("tick", 0);
  js.message("connect");
  return {errors: js.errors, sent: js.sent.map(([a]) => a), status: statusSummary(js)};
}

// -- a server that does not answer -----------------------------------------------------------
// Connect with nobody listening and let `cfg.seconds` pass on a fake clock, the script's
// timer run every 250 ms: returns when each hello went out (ms) and what the script said.
function reconnect(cfg) {
  const js = makeObject({network: false, manualTasks: true});
  let fake = 1e12;
  js.ctx.Date = class { getTime() { return fake; } };
  js.message("samplerate", 44100);
  js.message("tick", 0);
  js.message("connect");
  const hellos = [];
  const count = () => js.sent.filter(([a]) => a === "/sideman/hello").length;
  let seen = count();
  for (let i = 0; i < seen; i++) hellos.push(0);
  for (let t = 250; t <= cfg.seconds * 1000; t += 250) {
    fake += 250;
    if (js.ctx.timer === null) break;
    js.ctx.timer.execute();
    const n = count();
    for (; seen < n; seen++) hellos.push(t);
  }
  return {hellos, errors: js.errors, status: statusSummary(js), session: js.ctx.sm !== null};
}

async function main() {
  const [mode, file] = process.argv.slice(2);
  const cfg = JSON.parse(fs.readFileSync(file, "utf8"));
  let result;
  if (mode === "live") result = await live(cfg);
  else if (mode === "writer") result = writer(cfg);
  else if (mode === "badbuffer") result = badbuffer(cfg);
  else if (mode === "transport") result = transport(cfg);
  else if (mode === "reconnect") result = reconnect(cfg);
  else throw new Error(`mode must be live or writer, got ${mode}`);
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(String(e.stack || e) + "\n");
  process.exit(1);
});
