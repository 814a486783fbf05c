// A small stand-in for the parts of Max's [js] API that sideman.js uses, so its protocol
// logic runs under Node (no npm packages): Buffer, Task, outlet, post/error, messagename,
// arrayfromargs, jsarguments, inlets/outlets, and OSC over UDP as [udpsend]/[udpreceive] do it.
//
// Faithful to the Max documentation where the script depends on it:
//   * Buffer(name) binds to an existing buffer~; channels are 1-based, frames 0-based;
//     peek(channel, frame, count) returns an array; poke(channel, frame, values) writes a
//     number or an array; samples are stored as 32-bit floats like buffer~; send("clear").
//     Out-of-range access throws here (Max would ignore it): a bug in the script shows up.
//   * Task(fn, obj): interval, repeat(), schedule(ms), cancel(), running.
//   * outlet(n, a, b, ...) unrolls arrays one level; a message whose first item is a string
//     has that string as its selector.
//   * A message into the js inlet calls the function of that name, else anything() with
//     messagename set (how udpreceive's "/sideman/..." messages arrive).
//   * [udpsend] turns each message into one OSC datagram: selector = address; a whole JS
//     number becomes `i` (int32) and any other number `f` (float32), a string `s`. This is the
//     strict reading of how a js number reaches Max (a whole number as an int), so the server
//     must and does accept `i` samples. "host X" / "port N" retarget it.
//   * [udpreceive] decodes each OSC datagram to a message `address arg arg ...` (i and f as
//     numbers, s as strings) and passes it to the js inlet; "port N" rebinds it.
"use strict";

const dgram = require("dgram");
const fs = require("fs");
const vm = require("vm");

// -- OSC --------------------------------------------------------------------------------
function padded(buf) {
  const n = buf.length + 1;
  const out = Buffer.alloc(Math.ceil(n / 4) * 4);
  buf.copy(out);
  return out;
}

function encodeOsc(address, args) {
  let tags = ",";
  const parts = [];
  for (const a of args) {
    if (typeof a === "number") {
      if (Number.isInteger(a) && a >= -2147483648 && a <= 2147483647) {
        tags += "i";
        const b = Buffer.alloc(4);
        b.writeInt32BE(a);
        parts.push(b);
      } else {
        tags += "f";
        const b = Buffer.alloc(4);
        b.writeFloatBE(a);
        parts.push(b);
      }
    } else if (typeof a === "string") {
      tags += "s";
      parts.push(padded(Buffer.from(a, "utf8")));
    } else {
      throw new Error(`udpsend stand-in: cannot send ${typeof a} ${a}`);
    }
  }
  return Buffer.concat([padded(Buffer.from(address, "utf8")), padded(Buffer.from(tags)),
                        ...parts]);
}

function readString(buf, pos) {
  const end = buf.indexOf(0, pos);
  if (end < 0) throw new Error("OSC string without terminator");
  return [buf.toString("utf8", pos, end), Math.ceil((end + 1) / 4) * 4];
}

function decodeOsc(buf, out) {
  if (buf.toString("ascii", 0, 8) === "#bundle\0") {
    let pos = 16;
    while (pos < buf.length) {
      const size = buf.readInt32BE(pos);
      decodeOsc(buf.subarray(pos + 4, pos + 4 + size), out);
      pos += 4 + size;
    }
    return out;
  }
  let [address, pos] = readString(buf, 0);
  let tags;
  [tags, pos] = readString(buf, pos);
  const args = [];
  for (const t of tags.slice(1)) {
    if (t === "i") { args.push(buf.readInt32BE(pos)); pos += 4; }
    else if (t === "f") { args.push(buf.readFloatBE(pos)); pos += 4; }
    else if (t === "h") { args.push(Number(buf.readBigInt64BE(pos))); pos += 8; }
    else if (t === "d") { args.push(buf.readDoubleBE(pos)); pos += 8; }
    else if (t === "s") { let s; [s, pos] = readString(buf, pos); args.push(s); }
    else throw new Error(`udpreceive stand-in: type tag ${t} not handled`);
  }
  out.push([address, args]);
  return out;
}

// -- buffer~ and Buffer -------------------------------------------------------------------
class BufferStore {
  constructor(name, frames, channels) {
    this.name = name;
    this.frames = frames;
    this.data = [];
    for (let c = 0; c < channels; c++) this.data.push(new Float32Array(frames));
  }
}

function makeBufferClass(registry) {
  return class MaxBuffer {
    constructor(name) {
      const store = registry.get(name);
      if (!store) throw new Error(`Buffer: no buffer~ named ${name}`);
      this.store = store;
    }
    framecount() { return this.store.frames; }
    channelcount() { return this.store.data.length; }
    length() { return 1000 * this.store.frames / 44100; }
    _channel(channel) {
      const d = this.store.data[channel - 1];
      if (!d) throw new Error(`Buffer ${this.store.name}: no channel ${channel}`);
      return d;
    }
    peek(channel, frame, count) {
      const d = this._channel(channel);
      if (frame < 0 || frame + count > d.length || !Number.isInteger(frame)) {
        throw new Error(`Buffer ${this.store.name}.peek(${channel}, ${frame}, ${count}) out of range`);
      }
      return Array.from(d.subarray(frame, frame + count));
    }
    poke(channel, frame, values) {
      const d = this._channel(channel);
      const v = typeof values === "number" ? [values] : values;
      if (frame < 0 || frame + v.length > d.length || !Number.isInteger(frame)) {
        throw new Error(`Buffer ${this.store.name}.poke(${channel}, ${frame}, ${v.length} values) out of range`);
      }
      for (let i = 0; i < v.length; i++) {
        if (typeof v[i] !== "number" || !Number.isFinite(v[i])) {
          throw new Error(`Buffer ${this.store.name}.poke: not a finite number: ${v[i]}`);
        }
        d[frame + i] = v[i];
      }
    }
    send(message) {
      if (message === "clear") { for (const d of this.store.data) d.fill(0); return; }
      throw new Error(`Buffer.send(${message}) not handled by the stand-in`);
    }
  };
}

// -- Task -----------------------------------------------------------------------------------
function makeTaskClass(host) {
  return class Task {
    constructor(fn, obj) { this.fn = fn; this.obj = obj; this.interval = 500; this.handle = null; }
    get running() { return this.handle !== null; }
    repeat() {
      this.cancel();
      if (host.manualTasks) return;
      this.handle = setInterval(() => host.guard(() => this.fn.call(this.obj)), this.interval);
    }
    schedule(ms) {
      this.cancel();
      if (host.manualTasks) return;
      this.handle = setTimeout(() => { this.handle = null; host.guard(() => this.fn.call(this.obj)); },
                               ms || 0);
    }
    execute() { this.fn.call(this.obj); }
    cancel() {
      if (this.handle !== null) { clearInterval(this.handle); clearTimeout(this.handle); }
      this.handle = null;
    }
  };
}

// -- the js object --------------------------------------------------------------------------
class JsObject {
  // script: path of the .js file; options.network: false records outlet 0 instead of sending.
  constructor(script, options) {
    this.options = Object.assign({network: true, manualTasks: false}, options || {});
    this.manualTasks = this.options.manualTasks;
    this.buffers = new Map();
    this.sent = [];          // [address, args] of every OSC message out of outlet 0
    this.status = [];        // messages out of outlet 2
    this.offset = null;      // last value out of outlet 3
    this.log = [];
    this.errors = [];
    this.udp = {host: "127.0.0.1", port: 0, send: null, recv: null, recvPort: 0};
    // (stem, step, index, final) of every chunk that came off the socket, in arrival order
    this.chunksIn = [];
    this.source = fs.readFileSync(script, "utf8");
    this.scriptPath = script;
  }

  buffer(name, frames, channels) {
    const store = new BufferStore(name, frames, channels);
    this.buffers.set(name, store);
    return store;
  }

  guard(fn) {
    try { fn(); } catch (e) { this.errors.push(String(e.stack || e)); throw e; }
  }

  load(args) {
    const host = this;
    const ctx = {
      Buffer: makeBufferClass(this.buffers),
      Task: makeTaskClass(this),
      jsarguments: [this.scriptPath].concat(args || []),
      messagename: "",
      inlet: 0,
      autowatch: 0,
      inlets: 1,
      outlets: 1,
      post: (...a) => { host.log.push(a.join(" ")); },
      cpost: (...a) => { host.log.push(a.join(" ")); },
      error: (...a) => { host.errors.push(a.join(" ")); },
      arrayfromargs: (a, b) => Array.prototype.slice.call(b === undefined ? a : b),
      setinletassist: () => {},
      setoutletassist: () => {},
      outlet: (n, ...a) => host.onOutlet(n, a),
    };
    this.ctx = vm.createContext(ctx);
    vm.runInContext(this.source, this.ctx, {filename: this.scriptPath});
    this.inlets = this.ctx.inlets;
    this.outlets = this.ctx.outlets;
  }

  // A Max message into the js inlet.
  message(selector, ...args) {
    const fn = this.ctx[selector];
    this.ctx.messagename = selector;
    this.ctx.inlet = 0;
    if (typeof fn === "function") {
      this.guard(() => fn.apply(this.ctx, args));
    } else if (typeof this.ctx.anything === "function") {
      this.guard(() => this.ctx.anything.apply(this.ctx, args));
    } else {
      throw new Error(`js: no function ${selector} and no anything()`);
    }
  }

  onOutlet(n, items) {
    const flat = [];
    for (const x of items) {
      if (Array.isArray(x)) flat.push(...x); else flat.push(x);
    }
    if (n >= this.outlets) throw new Error(`outlet ${n} does not exist (outlets = ${this.outlets})`);
    if (n === 0) this.udpsend(flat);
    else if (n === 1) this.udpreceive(flat);
    else if (n === 2) { this.status.push(flat); if (this.onStatus) this.onStatus(flat); }
    else if (n === 3) this.offset = flat[0];
  }

  udpsend(msg) {
    const [selector, ...args] = msg;
    if (selector === "host") { this.udp.host = String(args[0]); return; }
    if (selector === "port") { this.udp.port = args[0]; return; }
    if (typeof selector !== "string" || selector[0] !== "/") {
      throw new Error(`udpsend stand-in: not an OSC message: ${msg.slice(0, 4)}`);
    }
    this.sent.push([selector, args]);
    if (!this.options.network) return;
    const payload = encodeOsc(selector, args);
    if (this.udp.send === null) this.udp.send = dgram.createSocket("udp4");
    this.udp.send.send(payload, this.udp.port, this.udp.host);
  }

  udpreceive(msg) {
    if (msg[0] !== "port") throw new Error(`udpreceive stand-in: ${msg[0]} not handled`);
    const port = msg[1];
    if (!this.options.network || port === this.udp.recvPort) return;
    if (this.udp.recv !== null) this.udp.recv.close();
    const sock = dgram.createSocket("udp4");
    sock.on("message", (payload) => {
      for (const [address, args] of decodeOsc(payload, [])) {
        if (address === "/sideman/chunk") this.chunksIn.push([args[1], args[2], args[6], args[8]]);
        this.message(address, ...args);
      }
    });
    sock.on("error", (e) => { this.errors.push(`udpreceive: ${e.message}`); });
    // Max's [udpreceive] reads with the operating system's default receive buffer: the
    // stand-in can be held to a given size (options.recvBuffer bytes) to test pacing.
    if (this.options.recvBuffer) {
      sock.on("listening", () => {
        sock.setRecvBufferSize(this.options.recvBuffer);
        this.udp.recvBufferSize = sock.getRecvBufferSize();  // Linux doubles what is asked
      });
    }
    sock.bind(port, "127.0.0.1");
    this.udp.recv = sock;
    this.udp.recvPort = port;
  }

  close() {
    if (this.udp.send) this.udp.send.close();
    if (this.udp.recv) this.udp.recv.close();
  }
}

module.exports = {JsObject, encodeOsc, decodeOsc};
