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
   840.0,
   580.0
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
     "text": "sideman: play the demo song against the server",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20,
      15,
      500,
      20
     ]
    }
   },
   {
    "box": {
     "id": "obj-2",
     "maxclass": "comment",
     "text": "1 in a terminal: sideman serve   2 turn audio on   3 open: choose media/demo_input.wav (the demo song, beside this patch)   4 play the demo   (stop: the last message)",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20,
      40,
      780,
      36
     ]
    }
   },
   {
    "box": {
     "id": "obj-3",
     "maxclass": "ezdac~",
     "numinlets": 2,
     "numoutlets": 0,
     "patching_rect": [
      20,
      85,
      45.0,
      45.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-4",
     "maxclass": "message",
     "text": "open",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      90,
      95,
      42.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-5",
     "maxclass": "message",
     "text": "file 1, connect, play 1",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      150,
      95,
      150.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-6",
     "maxclass": "message",
     "text": "play 0, disconnect",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      320,
      95,
      120.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-7",
     "maxclass": "bpatcher",
     "name": "sideman.maxpat",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20,
      145,
      790,
      350
     ],
     "offset": [
      0.0,
      0.0
     ],
     "viewvisibility": 1,
     "bgmode": 0,
     "border": 0,
     "clickthrough": 0,
     "enablehscroll": 0,
     "enablevscroll": 0,
     "lockeddragscroll": 0,
     "lockedsize": 0
    }
   },
   {
    "box": {
     "id": "obj-8",
     "maxclass": "comment",
     "text": "the accompanist, sideman.maxpat, in its performer's view: every control works here too (sideman-help.maxpat explains each one)",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20,
      505,
      780,
      20
     ]
    }
   }
  ],
  "lines": [
   {
    "patchline": {
     "source": [
      "obj-4",
      0
     ],
     "destination": [
      "obj-7",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-5",
      0
     ],
     "destination": [
      "obj-7",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-6",
      0
     ],
     "destination": [
      "obj-7",
      0
     ]
    }
   }
  ]
 }
}
