{
 "patcher": {
  "fileversion": 1,
  "appversion": {
   "major": 8,
   "minor": 5,
   "revision": 0,
   "architecture": "x64",
   "modernui": 1
  },
  "classnamespace": "box",
  "rect": [
   60.0,
   80.0,
   900.0,
   1000.0
  ],
  "bglocked": 0,
  "openinpresentation": 0,
  "default_fontsize": 12.0,
  "default_fontface": 0,
  "default_fontname": "Arial",
  "gridonopen": 1,
  "gridsize": [
   15.0,
   15.0
  ],
  "gridsnaponopen": 1,
  "objectsnaponopen": 1,
  "statusbarvisible": 2,
  "toolbarvisible": 1,
  "boxes": [
   {
    "box": {
     "id": "obj-1",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      10,
      600,
      20
     ],
     "text": "sideman: getting started",
     "linecount": 1,
     "fontsize": 18.0
    }
   },
   {
    "box": {
     "id": "obj-2",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      45,
      860,
      34
     ],
     "text": "1. Start the server in a terminal: sideman serve (or sideman serve --model clicktrack to test without a model). It listens on 127.0.0.1:7400.",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-3",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      79,
      860,
      34
     ],
     "text": "2. Open sideman.maxpat (click the message below) and turn audio on.",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-4",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      113,
      860,
      34
     ],
     "text": "3. Set host and port if the server runs on another computer, choose stems, r and w.",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-5",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      147,
      860,
      34
     ],
     "text": "4. Press connect. The connected light comes on and the status line names the model.",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-6",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      181,
      860,
      34
     ],
     "text": "5. Play. The generated parts come back a hop later, in time with you; raise delay if the status counts misses.",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-7",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      20,
      220,
      147.0,
      22
     ],
     "parameter_enable": 0,
     "text": "load sideman.maxpat"
    }
   },
   {
    "box": {
     "id": "obj-8",
     "maxclass": "newobj",
     "text": "pcontrol",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      20,
      250,
      70.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-9",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      285,
      400,
      20
     ],
     "text": "The controls of sideman.maxpat:",
     "linecount": 1,
     "fontface": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-10",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      310,
      860,
      20
     ],
     "text": "audio: turns audio on and off (the sample clock only runs while audio is on).",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-11",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      332,
      860,
      20
     ],
     "text": "host: the server's address; type it and press Return. 127.0.0.1 is this computer.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-12",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      354,
      860,
      20
     ],
     "text": "port: the server's UDP port (sideman serve --port, 7400 by default).",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-13",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      376,
      860,
      34
     ],
     "text": "replyport: the UDP port this patch listens on for the server's answers (7401); change it if another program uses it.",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-14",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      412,
      860,
      20
     ],
     "text": "connect: opens a session (turn audio on first). The status says when it runs.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-15",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      434,
      860,
      20
     ],
     "text": "disconnect: closes the session.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-16",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      456,
      860,
      20
     ],
     "text": "reset: the server forgets what it heard and generated; positions start again.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-17",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      478,
      860,
      34
     ],
     "text": "r: hop as a fraction of the model's window (0.25 = a step every quarter window). Smaller r: more frequent, shorter steps.",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-18",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      514,
      860,
      34
     ],
     "text": "w: look-ahead in hops. 1 is the live setting; 2 or more gives the model more time but it must guess further ahead. The server refuses values with (w+2)*r > 1.",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-19",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      550,
      860,
      20
     ],
     "text": "stem_bass: generate a bass part.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-20",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      572,
      860,
      20
     ],
     "text": "stem_drums: generate drums (on by default).",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-21",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      594,
      860,
      20
     ],
     "text": "stem_guitar: generate a guitar part.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-22",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      616,
      860,
      20
     ],
     "text": "stem_piano: generate a piano part. Several stems at once are fine.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-23",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      638,
      860,
      20
     ],
     "text": "steps: sampling steps per hop (0 = the model's default; more is slower).",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-24",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      660,
      860,
      20
     ],
     "text": "variation: noise temperature, 0 ... 2 (1 = as trained).",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-25",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      682,
      860,
      34
     ],
     "text": "delay: output delay in ms. The generated parts play this much later than the input they go with; raise it when the status shows misses (network jitter).",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-26",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      718,
      860,
      34
     ],
     "text": "datagram: largest UDP datagram the server sends (bytes). Lower it if chunks never arrive (some networks drop large datagrams).",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-27",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      754,
      860,
      34
     ],
     "text": "file: input source, off = the live input (adc~ 1), on = the sound file (a stereo file is mixed down to (left + right) / 2; a mono file plays at half level).",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-28",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      790,
      860,
      20
     ],
     "text": "open: choose a sound file for the file input.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-29",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      812,
      860,
      20
     ],
     "text": "play: starts (on) and stops (off) the sound file.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-30",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      834,
      860,
      20
     ],
     "text": "input_gain: level of the input that is recorded and sent to the server.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-31",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      856,
      860,
      20
     ],
     "text": "monitor: level of the input in the output (0 if you hear your instrument already).",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-32",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      878,
      860,
      20
     ],
     "text": "gain_bass: level of the generated bass.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-33",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      900,
      860,
      20
     ],
     "text": "gain_drums: level of the generated drums.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-34",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      922,
      860,
      20
     ],
     "text": "gain_guitar: level of the generated guitar.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-35",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      944,
      860,
      20
     ],
     "text": "gain_piano: level of the generated piano.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-36",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      966,
      860,
      34
     ],
     "text": "transport: starts and stops Max's transport; its tempo and bar position are sent to the server (models with a beat grid use them).",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-37",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      1002,
      860,
      20
     ],
     "text": "tempo: the transport's tempo in BPM.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-38",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      1024,
      860,
      20
     ],
     "text": "connected: a light, on while a session runs and the server answers.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-39",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      1046,
      860,
      20
     ],
     "text": "latency: ms from the end of a hop's input to the last chunk of its output.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-40",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      1068,
      860,
      20
     ],
     "text": "slack: ms to spare between a step's last chunk and the moment it plays (negative = late).",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-41",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      1090,
      860,
      20
     ],
     "text": "misses: steps whose output was not complete when it had to play.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-42",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      1112,
      860,
      20
     ],
     "text": "lost: chunks that never arrived before their time.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-43",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      1134,
      860,
      20
     ],
     "text": "info: the latest message from the patch or the server.",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-44",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      1156,
      860,
      34
     ],
     "text": "server: the server's own status, every second: its worst recent slack, the time a step takes, the time sending it takes, its misses, the input it lacked.",
     "linecount": 2,
     "fontsize": 12.0
    }
   }
  ],
  "lines": [
   {
    "patchline": {
     "source": [
      "obj-7",
      0
     ],
     "destination": [
      "obj-8",
      0
     ]
    }
   }
  ]
 }
}
