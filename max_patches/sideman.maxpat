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
   40.0,
   60.0,
   1560.0,
   1100.0
  ],
  "bglocked": 0,
  "openinpresentation": 1,
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
     "text": "sideman: an AI accompanist that listens to you and plays along",
     "linecount": 1,
     "fontsize": 18.0,
     "presentation": 1,
     "presentation_rect": [
      10.0,
      5.0,
      600.0,
      28.0
     ]
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
      38,
      760,
      20
     ],
     "text": "Start the server (sideman serve), turn audio on, press connect, play. Every control is explained in sideman-help.maxpat.",
     "linecount": 1,
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
      75,
      200,
      20
     ],
     "text": "1. connection",
     "linecount": 1,
     "fontface": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-4",
     "maxclass": "ezdac~",
     "numinlets": 2,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      100,
      45,
      45
     ],
     "parameter_enable": 0,
     "varname": "audio",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      40.0,
      45.0,
      45.0
     ]
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
      70,
      113,
      60,
      20
     ],
     "text": "audio",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      58.0,
      53.0,
      50.0,
      20.0
     ]
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
      140,
      100,
      40,
      20
     ],
     "text": "host",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      115.0,
      40.0,
      40.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-7",
     "maxclass": "textedit",
     "numinlets": 1,
     "numoutlets": 4,
     "outlettype": [
      "",
      "int",
      "",
      ""
     ],
     "patching_rect": [
      180,
      100,
      110,
      22
     ],
     "parameter_enable": 0,
     "varname": "host",
     "text": "127.0.0.1",
     "keymode": 1,
     "lines": 1,
     "presentation": 1,
     "presentation_rect": [
      155.0,
      40.0,
      110.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-8",
     "maxclass": "newobj",
     "text": "route text",
     "numinlets": 2,
     "numoutlets": 2,
     "outlettype": [
      "",
      ""
     ],
     "patching_rect": [
      180,
      130,
      84.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-9",
     "maxclass": "newobj",
     "text": "prepend host",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      180,
      155,
      98.0,
      22.0
     ]
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
      300,
      100,
      40,
      20
     ],
     "text": "port",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      275.0,
      40.0,
      40.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-11",
     "maxclass": "number",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      340,
      100,
      60,
      22
     ],
     "parameter_enable": 0,
     "varname": "port",
     "minimum": 1,
     "maximum": 65535,
     "presentation": 1,
     "presentation_rect": [
      315.0,
      40.0,
      60.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-12",
     "maxclass": "newobj",
     "text": "loadmess 7400",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      410,
      100,
      105.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-13",
     "maxclass": "newobj",
     "text": "prepend port",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      340,
      155,
      98.0,
      22.0
     ]
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
      540,
      100,
      70,
      20
     ],
     "text": "replyport",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-15",
     "maxclass": "number",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      610,
      100,
      60,
      22
     ],
     "parameter_enable": 0,
     "varname": "replyport",
     "minimum": 1,
     "maximum": 65535
    }
   },
   {
    "box": {
     "id": "obj-16",
     "maxclass": "newobj",
     "text": "loadmess 7401",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      680,
      100,
      105.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-17",
     "maxclass": "newobj",
     "text": "prepend replyport",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      610,
      155,
      133.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-18",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      820,
      100,
      63.0,
      22
     ],
     "parameter_enable": 0,
     "varname": "connect",
     "text": "connect",
     "presentation": 1,
     "presentation_rect": [
      390.0,
      40.0,
      63.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-19",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      890,
      100,
      84.0,
      22
     ],
     "parameter_enable": 0,
     "varname": "disconnect",
     "text": "disconnect",
     "presentation": 1,
     "presentation_rect": [
      460.0,
      40.0,
      84.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-20",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      990,
      100,
      49.0,
      22
     ],
     "parameter_enable": 0,
     "varname": "reset",
     "text": "reset",
     "presentation": 1,
     "presentation_rect": [
      551.0,
      40.0,
      49.0,
      22.0
     ]
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
      195,
      200,
      20
     ],
     "text": "2. what to generate",
     "linecount": 1,
     "fontface": 1,
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
      220,
      100,
      20
     ],
     "text": "r",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      10.0,
      95.0,
      60.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-23",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      20,
      240,
      60,
      22
     ],
     "parameter_enable": 1,
     "varname": "r",
     "minimum": 0.015625,
     "maximum": 1.0,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman r",
       "parameter_shortname": "r",
       "parameter_type": 0,
       "parameter_mmin": 0.015625,
       "parameter_mmax": 1.0,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        0.25
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      10.0,
      115.0,
      60.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-24",
     "maxclass": "newobj",
     "text": "loadmess 0.25",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      20,
      267,
      105.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-25",
     "maxclass": "newobj",
     "text": "prepend r",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      20,
      292,
      77.0,
      22.0
     ]
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
      170,
      220,
      90,
      20
     ],
     "text": "w",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      85.0,
      95.0,
      50.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-27",
     "maxclass": "number",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      170,
      240,
      50,
      22
     ],
     "parameter_enable": 1,
     "varname": "w",
     "minimum": -1,
     "maximum": 14,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman w",
       "parameter_shortname": "w",
       "parameter_type": 1,
       "parameter_mmin": -1,
       "parameter_mmax": 14,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        1
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      85.0,
      115.0,
      50.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-28",
     "maxclass": "newobj",
     "text": "loadmess 1",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      170,
      267,
      84.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-29",
     "maxclass": "newobj",
     "text": "prepend w",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      170,
      292,
      77.0,
      22.0
     ]
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
      320,
      220,
      90,
      20
     ],
     "text": "steps",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      150.0,
      95.0,
      50.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-31",
     "maxclass": "number",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      320,
      240,
      50,
      22
     ],
     "parameter_enable": 1,
     "varname": "steps",
     "minimum": 0,
     "maximum": 64,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman steps",
       "parameter_shortname": "steps",
       "parameter_type": 1,
       "parameter_mmin": 0,
       "parameter_mmax": 64,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      150.0,
      115.0,
      50.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-32",
     "maxclass": "newobj",
     "text": "loadmess 0",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      320,
      267,
      84.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-33",
     "maxclass": "newobj",
     "text": "prepend steps",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      320,
      292,
      105.0,
      22.0
     ]
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
      470,
      220,
      100,
      20
     ],
     "text": "variation",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      215.0,
      95.0,
      70.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-35",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      470,
      240,
      60,
      22
     ],
     "parameter_enable": 1,
     "varname": "variation",
     "minimum": 0.0,
     "maximum": 2.0,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman variation",
       "parameter_shortname": "variation",
       "parameter_type": 0,
       "parameter_mmin": 0.0,
       "parameter_mmax": 2.0,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        1.0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      215.0,
      115.0,
      60.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-36",
     "maxclass": "newobj",
     "text": "loadmess 1.",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      470,
      267,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-37",
     "maxclass": "newobj",
     "text": "prepend variation",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      470,
      292,
      133.0,
      22.0
     ]
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
      620,
      220,
      100,
      20
     ],
     "text": "delay (ms)",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      300.0,
      95.0,
      80.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-39",
     "maxclass": "number",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      620,
      240,
      60,
      22
     ],
     "parameter_enable": 1,
     "varname": "delay",
     "minimum": 0,
     "maximum": 10000,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman delay",
       "parameter_shortname": "delay",
       "parameter_type": 1,
       "parameter_mmin": 0,
       "parameter_mmax": 10000,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      300.0,
      115.0,
      60.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-40",
     "maxclass": "newobj",
     "text": "loadmess 0",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      620,
      267,
      84.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-41",
     "maxclass": "newobj",
     "text": "prepend delay",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      620,
      292,
      105.0,
      22.0
     ]
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
      770,
      220,
      110,
      20
     ],
     "text": "datagram",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-43",
     "maxclass": "number",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      770,
      240,
      70,
      22
     ],
     "parameter_enable": 0,
     "varname": "datagram"
    }
   },
   {
    "box": {
     "id": "obj-44",
     "maxclass": "newobj",
     "text": "loadmess 4096",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      770,
      267,
      105.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-45",
     "maxclass": "newobj",
     "text": "prepend datagram",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      770,
      292,
      126.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-46",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      920,
      220,
      60,
      20
     ],
     "text": "stems",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      400.0,
      95.0,
      60.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-47",
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "int"
     ],
     "patching_rect": [
      920,
      240,
      22,
      22
     ],
     "parameter_enable": 1,
     "varname": "stem_bass",
     "minimum": 0,
     "maximum": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman stem_bass",
       "parameter_shortname": "stem_bass",
       "parameter_type": 1,
       "parameter_mmin": 0,
       "parameter_mmax": 1,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      400.0,
      115.0,
      22.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-48",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      944,
      240,
      50,
      20
     ],
     "text": "bass",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      424.0,
      115.0,
      60.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-49",
     "maxclass": "newobj",
     "text": "prepend stem bass",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      920,
      292,
      133.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-50",
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "int"
     ],
     "patching_rect": [
      1075,
      240,
      22,
      22
     ],
     "parameter_enable": 1,
     "varname": "stem_drums",
     "minimum": 0,
     "maximum": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman stem_drums",
       "parameter_shortname": "stem_drums",
       "parameter_type": 1,
       "parameter_mmin": 0,
       "parameter_mmax": 1,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        1
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      490.0,
      115.0,
      22.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-51",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      1099,
      240,
      50,
      20
     ],
     "text": "drums",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      514.0,
      115.0,
      60.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-52",
     "maxclass": "newobj",
     "text": "prepend stem drums",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1075,
      292,
      140.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-53",
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "int"
     ],
     "patching_rect": [
      1230,
      240,
      22,
      22
     ],
     "parameter_enable": 1,
     "varname": "stem_guitar",
     "minimum": 0,
     "maximum": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman stem_guitar",
       "parameter_shortname": "stem_guitar",
       "parameter_type": 1,
       "parameter_mmin": 0,
       "parameter_mmax": 1,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      580.0,
      115.0,
      22.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-54",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      1254,
      240,
      50,
      20
     ],
     "text": "guitar",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      604.0,
      115.0,
      60.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-55",
     "maxclass": "newobj",
     "text": "prepend stem guitar",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1230,
      292,
      147.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-56",
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "int"
     ],
     "patching_rect": [
      1385,
      240,
      22,
      22
     ],
     "parameter_enable": 1,
     "varname": "stem_piano",
     "minimum": 0,
     "maximum": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman stem_piano",
       "parameter_shortname": "stem_piano",
       "parameter_type": 1,
       "parameter_mmin": 0,
       "parameter_mmax": 1,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      670.0,
      115.0,
      22.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-57",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      1409,
      240,
      50,
      20
     ],
     "text": "piano",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      694.0,
      115.0,
      60.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-58",
     "maxclass": "newobj",
     "text": "prepend stem piano",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1385,
      292,
      140.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-59",
     "maxclass": "newobj",
     "text": "loadmess 1",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1060,
      267,
      84.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-60",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      345,
      700,
      20
     ],
     "text": "3. the protocol: sideman.js (handshake, audio and marks out, chunks into the buffers, status)",
     "linecount": 1,
     "fontface": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-61",
     "maxclass": "newobj",
     "text": "js sideman.js",
     "numinlets": 1,
     "numoutlets": 4,
     "outlettype": [
      "",
      "",
      "",
      ""
     ],
     "patching_rect": [
      20,
      420,
      300,
      22.0
     ],
     "saved_object_attributes": {
      "filename": "sideman.js",
      "parameter_enable": 0
     }
    }
   },
   {
    "box": {
     "id": "obj-62",
     "maxclass": "newobj",
     "text": "udpsend 127.0.0.1 7400",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      475,
      168.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-63",
     "maxclass": "newobj",
     "text": "udpreceive 7401",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      240,
      375,
      119.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-64",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      380,
      375,
      520,
      34
     ],
     "text": "udpsend has no outlet and sends from a port of its own, so the hello names replyport and the server answers there (PROTOCOL.md, Reply port).",
     "linecount": 2,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-65",
     "maxclass": "newobj",
     "text": "dspstate~",
     "numinlets": 1,
     "numoutlets": 4,
     "outlettype": [
      "int",
      "float",
      "int",
      "int"
     ],
     "patching_rect": [
      760,
      420,
      77.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-66",
     "maxclass": "newobj",
     "text": "prepend samplerate",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      760,
      445,
      140.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-67",
     "maxclass": "newobj",
     "text": "loadbang",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "bang"
     ],
     "patching_rect": [
      680,
      420,
      70.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-68",
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "int"
     ],
     "patching_rect": [
      950,
      375,
      22,
      22
     ],
     "parameter_enable": 0,
     "varname": "transport"
    }
   },
   {
    "box": {
     "id": "obj-69",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      975,
      375,
      80,
      20
     ],
     "text": "transport",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-70",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      1060,
      375,
      50,
      20
     ],
     "text": "tempo",
     "linecount": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-71",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      1110,
      375,
      60,
      22
     ],
     "parameter_enable": 0,
     "varname": "tempo"
    }
   },
   {
    "box": {
     "id": "obj-72",
     "maxclass": "newobj",
     "text": "prepend tempo",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1110,
      400,
      105.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-73",
     "maxclass": "newobj",
     "text": "loadmess 1",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1180,
      350,
      84.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-74",
     "maxclass": "newobj",
     "text": "metro 250",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "bang"
     ],
     "patching_rect": [
      1180,
      375,
      77.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-75",
     "maxclass": "newobj",
     "text": "transport",
     "numinlets": 2,
     "numoutlets": 9,
     "outlettype": [
      "int",
      "int",
      "float",
      "float",
      "float",
      "",
      "int",
      "float",
      ""
     ],
     "patching_rect": [
      950,
      425,
      320,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-76",
     "maxclass": "newobj",
     "text": "prepend tr_bars",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      950,
      455,
      119.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-77",
     "maxclass": "newobj",
     "text": "prepend tr_beats",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      960,
      480,
      126.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-78",
     "maxclass": "newobj",
     "text": "prepend tr_units",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      970,
      505,
      126.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-79",
     "maxclass": "newobj",
     "text": "prepend tr_resolution",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      980,
      530,
      161.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-80",
     "maxclass": "newobj",
     "text": "prepend tr_tempo",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      990,
      555,
      126.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-81",
     "maxclass": "newobj",
     "text": "prepend tr_timesig",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1000,
      580,
      140.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-82",
     "maxclass": "newobj",
     "text": "prepend tr_state",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1010,
      605,
      126.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-83",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      540,
      200,
      20
     ],
     "text": "4. status",
     "linecount": 1,
     "fontface": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-84",
     "maxclass": "newobj",
     "text": "route connected latency slack misses lost info server",
     "numinlets": 2,
     "numoutlets": 8,
     "outlettype": [
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      ""
     ],
     "patching_rect": [
      20,
      565,
      420,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-85",
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "int"
     ],
     "patching_rect": [
      20,
      620,
      22,
      22
     ],
     "parameter_enable": 0,
     "varname": "connected",
     "ignoreclick": 1,
     "presentation": 1,
     "presentation_rect": [
      615.0,
      40.0,
      22.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-86",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      45,
      620,
      70,
      20
     ],
     "text": "connected",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      640.0,
      40.0,
      70.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-87",
     "maxclass": "newobj",
     "text": "prepend set",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      120,
      592,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-88",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      120,
      620,
      80,
      22
     ],
     "parameter_enable": 0,
     "varname": "latency",
     "text": "-",
     "ignoreclick": 1,
     "presentation": 1,
     "presentation_rect": [
      10.0,
      255.0,
      80.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-89",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      120,
      645,
      80,
      20
     ],
     "text": "latency ms",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      10.0,
      235.0,
      80.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-90",
     "maxclass": "newobj",
     "text": "prepend set",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      220,
      592,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-91",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      220,
      620,
      80,
      22
     ],
     "parameter_enable": 0,
     "varname": "slack",
     "text": "-",
     "ignoreclick": 1,
     "presentation": 1,
     "presentation_rect": [
      100.0,
      255.0,
      80.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-92",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      220,
      645,
      80,
      20
     ],
     "text": "slack ms",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      100.0,
      235.0,
      80.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-93",
     "maxclass": "newobj",
     "text": "prepend set",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      320,
      592,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-94",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      320,
      620,
      80,
      22
     ],
     "parameter_enable": 0,
     "varname": "misses",
     "text": "-",
     "ignoreclick": 1,
     "presentation": 1,
     "presentation_rect": [
      190.0,
      255.0,
      80.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-95",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      320,
      645,
      80,
      20
     ],
     "text": "misses",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      190.0,
      235.0,
      80.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-96",
     "maxclass": "newobj",
     "text": "prepend set",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      420,
      592,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-97",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      420,
      620,
      80,
      22
     ],
     "parameter_enable": 0,
     "varname": "lost",
     "text": "-",
     "ignoreclick": 1,
     "presentation": 1,
     "presentation_rect": [
      280.0,
      255.0,
      80.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-98",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      420,
      645,
      80,
      20
     ],
     "text": "lost",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      280.0,
      235.0,
      80.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-99",
     "maxclass": "newobj",
     "text": "prepend set",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      520,
      592,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-100",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      520,
      620,
      400,
      22
     ],
     "parameter_enable": 0,
     "varname": "info",
     "text": "not connected",
     "ignoreclick": 1,
     "presentation": 1,
     "presentation_rect": [
      370.0,
      255.0,
      400.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-101",
     "maxclass": "newobj",
     "text": "prepend set",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      620,
      592,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-102",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      520,
      645,
      420,
      22
     ],
     "parameter_enable": 0,
     "varname": "server",
     "text": "server: -",
     "ignoreclick": 1,
     "presentation": 1,
     "presentation_rect": [
      10.0,
      285.0,
      760.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-103",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      670,
      900,
      20
     ],
     "text": "5. audio: the sample clock [count~] drives everything, so input and output stay sample-aligned",
     "linecount": 1,
     "fontface": 1,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-104",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      690,
      1200,
      48
     ],
     "text": "Input: count~ gives every sample its absolute position; poke~ writes the input at slot (count % 1048576) of buffer~ ---sideman.in, where sideman.js reads it (--- is the Max for Live device's number: copies do not share buffers). Output: each stem's buffer~ has 3 channels written by sideman.js: 1 tail (direct samples), 2 head (the first xfade samples of a step), 3 gain (crossfade gain, 0 elsewhere). index~ reads them at slot ((count + 1048576 - delay) % 1048576) and the stem plays tail + gain * (head - tail): the crossfade of PROTOCOL.md, computed once, whatever order the chunks came in. The offset comes from sideman.js (outlet 4).",
     "linecount": 3,
     "fontsize": 12.0
    }
   },
   {
    "box": {
     "id": "obj-105",
     "maxclass": "newobj",
     "text": "adc~ 1",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      20,
      790,
      56.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-106",
     "maxclass": "newobj",
     "text": "sfplay~ 2",
     "numinlets": 2,
     "numoutlets": 3,
     "outlettype": [
      "signal",
      "signal",
      "bang"
     ],
     "patching_rect": [
      90,
      790,
      77.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-107",
     "maxclass": "newobj",
     "text": "+~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      140,
      820,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-108",
     "maxclass": "newobj",
     "text": "*~ 0.5",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      190,
      820,
      56.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-109",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      90,
      760,
      42.0,
      22
     ],
     "parameter_enable": 0,
     "varname": "open",
     "text": "open",
     "presentation": 1,
     "presentation_rect": [
      80.0,
      155.0,
      42.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-110",
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "int"
     ],
     "patching_rect": [
      140,
      760,
      22,
      22
     ],
     "parameter_enable": 0,
     "varname": "play",
     "presentation": 1,
     "presentation_rect": [
      130.0,
      155.0,
      22.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-111",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      164,
      760,
      40,
      20
     ],
     "text": "play",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      154.0,
      155.0,
      40.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-112",
     "maxclass": "toggle",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "int"
     ],
     "patching_rect": [
      210,
      760,
      22,
      22
     ],
     "parameter_enable": 0,
     "varname": "file",
     "presentation": 1,
     "presentation_rect": [
      10.0,
      155.0,
      22.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-113",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      234,
      760,
      40,
      20
     ],
     "text": "file",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      34.0,
      155.0,
      40.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-114",
     "maxclass": "newobj",
     "text": "+ 1",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "int"
     ],
     "patching_rect": [
      210,
      790,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-115",
     "maxclass": "newobj",
     "text": "selector~ 2 1",
     "numinlets": 3,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      20,
      820,
      105.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-116",
     "maxclass": "newobj",
     "text": "*~ 1.",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      20,
      850,
      49.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-117",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      70,
      850,
      50,
      22
     ],
     "parameter_enable": 1,
     "varname": "input_gain",
     "minimum": 0.0,
     "maximum": 4.0,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman input_gain",
       "parameter_shortname": "input_gain",
       "parameter_type": 0,
       "parameter_mmin": 0.0,
       "parameter_mmax": 4.0,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        1.0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      285.0,
      155.0,
      50.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-118",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      125,
      850,
      80,
      20
     ],
     "text": "input_gain",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      205.0,
      155.0,
      80.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-119",
     "maxclass": "newobj",
     "text": "loadmess 1.",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      125,
      875,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-120",
     "maxclass": "meter~",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "float"
     ],
     "patching_rect": [
      215,
      852,
      80,
      13
     ],
     "presentation": 1,
     "presentation_rect": [
      475.0,
      160.0,
      120.0,
      13.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-121",
     "maxclass": "newobj",
     "text": "count~ 0 0 1 0",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      280,
      790,
      112.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-122",
     "maxclass": "newobj",
     "text": "%~ 1048576",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      280,
      820,
      84.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-123",
     "maxclass": "newobj",
     "text": "poke~ ---sideman.in",
     "numinlets": 3,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      910,
      147.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-124",
     "maxclass": "newobj",
     "text": "snapshot~ 5",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "float"
     ],
     "patching_rect": [
      420,
      790,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-125",
     "maxclass": "newobj",
     "text": "prepend tick",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      420,
      820,
      98.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-126",
     "maxclass": "newobj",
     "text": "+~ 1048576",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      540,
      790,
      84.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-127",
     "maxclass": "newobj",
     "text": "%~ 1048576",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      540,
      820,
      84.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-128",
     "maxclass": "newobj",
     "text": "*~ 0.",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      20,
      940,
      49.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-129",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      70,
      940,
      50,
      22
     ],
     "parameter_enable": 1,
     "varname": "monitor",
     "minimum": 0.0,
     "maximum": 4.0,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman monitor",
       "parameter_shortname": "monitor",
       "parameter_type": 0,
       "parameter_mmin": 0.0,
       "parameter_mmax": 4.0,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        0.0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      410.0,
      155.0,
      50.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-130",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      125,
      940,
      60,
      20
     ],
     "text": "monitor",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      350.0,
      155.0,
      60.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-131",
     "maxclass": "newobj",
     "text": "dac~ 1 2",
     "numinlets": 2,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      20,
      1020,
      70.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-132",
     "maxclass": "newobj",
     "text": "loadbang",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "bang"
     ],
     "patching_rect": [
      1230,
      760,
      70.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-133",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1230,
      790,
      161.0,
      22
     ],
     "parameter_enable": 0,
     "text": "sizeinsamps 1048576 1"
    }
   },
   {
    "box": {
     "id": "obj-134",
     "maxclass": "newobj",
     "text": "buffer~ ---sideman.in",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "float",
      "bang"
     ],
     "patching_rect": [
      1230,
      820,
      161.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-135",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      20,
      505,
      637.0,
      22
     ],
     "parameter_enable": 0,
     "text": "buffers ---sideman.in ---sideman.bass ---sideman.drums ---sideman.guitar ---sideman.piano"
    }
   },
   {
    "box": {
     "id": "obj-136",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1230,
      850,
      161.0,
      22
     ],
     "parameter_enable": 0,
     "text": "sizeinsamps 1048576 3"
    }
   },
   {
    "box": {
     "id": "obj-137",
     "maxclass": "newobj",
     "text": "index~ ---sideman.bass 1",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      330,
      855,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-138",
     "maxclass": "newobj",
     "text": "index~ ---sideman.bass 2",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      330,
      880,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-139",
     "maxclass": "newobj",
     "text": "index~ ---sideman.bass 3",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      330,
      905,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-140",
     "maxclass": "newobj",
     "text": "-~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      330,
      935,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-141",
     "maxclass": "newobj",
     "text": "*~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      330,
      960,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-142",
     "maxclass": "newobj",
     "text": "+~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      330,
      985,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-143",
     "maxclass": "newobj",
     "text": "*~ 1.",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      330,
      1015,
      49.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-144",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      380,
      1015,
      50,
      22
     ],
     "parameter_enable": 1,
     "varname": "gain_bass",
     "minimum": 0.0,
     "maximum": 4.0,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman gain_bass",
       "parameter_shortname": "gain_bass",
       "parameter_type": 0,
       "parameter_mmin": 0.0,
       "parameter_mmax": 4.0,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        1.0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      10.0,
      195.0,
      50.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-145",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      435,
      1015,
      90,
      20
     ],
     "text": "gain_bass",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      63.0,
      195.0,
      90.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-146",
     "maxclass": "newobj",
     "text": "loadmess 1.",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      435,
      1040,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-147",
     "maxclass": "meter~",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "float"
     ],
     "patching_rect": [
      330,
      1045,
      80,
      13
     ],
     "presentation": 1,
     "presentation_rect": [
      10.0,
      219.0,
      140.0,
      10.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-148",
     "maxclass": "newobj",
     "text": "buffer~ ---sideman.bass",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "float",
      "bang"
     ],
     "patching_rect": [
      1230,
      880,
      175.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-149",
     "maxclass": "newobj",
     "text": "index~ ---sideman.drums 1",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      550,
      855,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-150",
     "maxclass": "newobj",
     "text": "index~ ---sideman.drums 2",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      550,
      880,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-151",
     "maxclass": "newobj",
     "text": "index~ ---sideman.drums 3",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      550,
      905,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-152",
     "maxclass": "newobj",
     "text": "-~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      550,
      935,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-153",
     "maxclass": "newobj",
     "text": "*~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      550,
      960,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-154",
     "maxclass": "newobj",
     "text": "+~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      550,
      985,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-155",
     "maxclass": "newobj",
     "text": "*~ 1.",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      550,
      1015,
      49.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-156",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      600,
      1015,
      50,
      22
     ],
     "parameter_enable": 1,
     "varname": "gain_drums",
     "minimum": 0.0,
     "maximum": 4.0,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman gain_drums",
       "parameter_shortname": "gain_drums",
       "parameter_type": 0,
       "parameter_mmin": 0.0,
       "parameter_mmax": 4.0,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        1.0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      190.0,
      195.0,
      50.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-157",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      655,
      1015,
      90,
      20
     ],
     "text": "gain_drums",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      243.0,
      195.0,
      90.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-158",
     "maxclass": "newobj",
     "text": "loadmess 1.",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      655,
      1040,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-159",
     "maxclass": "meter~",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "float"
     ],
     "patching_rect": [
      550,
      1045,
      80,
      13
     ],
     "presentation": 1,
     "presentation_rect": [
      190.0,
      219.0,
      140.0,
      10.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-160",
     "maxclass": "newobj",
     "text": "buffer~ ---sideman.drums",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "float",
      "bang"
     ],
     "patching_rect": [
      1230,
      905,
      182.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-161",
     "maxclass": "newobj",
     "text": "index~ ---sideman.guitar 1",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      770,
      855,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-162",
     "maxclass": "newobj",
     "text": "index~ ---sideman.guitar 2",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      770,
      880,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-163",
     "maxclass": "newobj",
     "text": "index~ ---sideman.guitar 3",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      770,
      905,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-164",
     "maxclass": "newobj",
     "text": "-~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      770,
      935,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-165",
     "maxclass": "newobj",
     "text": "*~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      770,
      960,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-166",
     "maxclass": "newobj",
     "text": "+~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      770,
      985,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-167",
     "maxclass": "newobj",
     "text": "*~ 1.",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      770,
      1015,
      49.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-168",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      820,
      1015,
      50,
      22
     ],
     "parameter_enable": 1,
     "varname": "gain_guitar",
     "minimum": 0.0,
     "maximum": 4.0,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman gain_guitar",
       "parameter_shortname": "gain_guitar",
       "parameter_type": 0,
       "parameter_mmin": 0.0,
       "parameter_mmax": 4.0,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        1.0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      370.0,
      195.0,
      50.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-169",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      875,
      1015,
      90,
      20
     ],
     "text": "gain_guitar",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      423.0,
      195.0,
      90.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-170",
     "maxclass": "newobj",
     "text": "loadmess 1.",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      875,
      1040,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-171",
     "maxclass": "meter~",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "float"
     ],
     "patching_rect": [
      770,
      1045,
      80,
      13
     ],
     "presentation": 1,
     "presentation_rect": [
      370.0,
      219.0,
      140.0,
      10.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-172",
     "maxclass": "newobj",
     "text": "buffer~ ---sideman.guitar",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "float",
      "bang"
     ],
     "patching_rect": [
      1230,
      930,
      189.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-173",
     "maxclass": "newobj",
     "text": "index~ ---sideman.piano 1",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      990,
      855,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-174",
     "maxclass": "newobj",
     "text": "index~ ---sideman.piano 2",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      990,
      880,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-175",
     "maxclass": "newobj",
     "text": "index~ ---sideman.piano 3",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      990,
      905,
      150,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-176",
     "maxclass": "newobj",
     "text": "-~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      990,
      935,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-177",
     "maxclass": "newobj",
     "text": "*~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      990,
      960,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-178",
     "maxclass": "newobj",
     "text": "+~",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      990,
      985,
      40.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-179",
     "maxclass": "newobj",
     "text": "*~ 1.",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "signal"
     ],
     "patching_rect": [
      990,
      1015,
      49.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-180",
     "maxclass": "flonum",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      1040,
      1015,
      50,
      22
     ],
     "parameter_enable": 1,
     "varname": "gain_piano",
     "minimum": 0.0,
     "maximum": 4.0,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "sideman gain_piano",
       "parameter_shortname": "gain_piano",
       "parameter_type": 0,
       "parameter_mmin": 0.0,
       "parameter_mmax": 4.0,
       "parameter_initial_enable": 1,
       "parameter_initial": [
        1.0
       ]
      }
     },
     "presentation": 1,
     "presentation_rect": [
      550.0,
      195.0,
      50.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-181",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "outlettype": [],
     "patching_rect": [
      1095,
      1015,
      90,
      20
     ],
     "text": "gain_piano",
     "linecount": 1,
     "fontsize": 12.0,
     "presentation": 1,
     "presentation_rect": [
      603.0,
      195.0,
      90.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-182",
     "maxclass": "newobj",
     "text": "loadmess 1.",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1095,
      1040,
      91.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-183",
     "maxclass": "meter~",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "float"
     ],
     "patching_rect": [
      990,
      1045,
      80,
      13
     ],
     "presentation": 1,
     "presentation_rect": [
      550.0,
      219.0,
      140.0,
      10.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-184",
     "maxclass": "newobj",
     "text": "buffer~ ---sideman.piano",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "float",
      "bang"
     ],
     "patching_rect": [
      1230,
      955,
      182.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-185",
     "maxclass": "newobj",
     "text": "t b",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      "bang"
     ],
     "patching_rect": [
      630,
      740,
      115,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-186",
     "maxclass": "newobj",
     "text": "opendialog sound",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      "bang"
     ],
     "patching_rect": [
      630,
      770,
      115,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-187",
     "maxclass": "newobj",
     "text": "t s s",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "",
      ""
     ],
     "patching_rect": [
      630,
      800,
      115,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-188",
     "maxclass": "newobj",
     "text": "prepend open",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      630,
      830,
      115,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-189",
     "maxclass": "newobj",
     "text": "prepend open",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      755,
      740,
      115,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-190",
     "maxclass": "newobj",
     "text": "sfinfo~",
     "numinlets": 1,
     "numoutlets": 6,
     "outlettype": [
      "int",
      "int",
      "float",
      "float",
      "",
      ""
     ],
     "patching_rect": [
      755,
      770,
      115,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-191",
     "maxclass": "newobj",
     "text": "clip 1 2",
     "numinlets": 3,
     "numoutlets": 1,
     "outlettype": [
      "int"
     ],
     "patching_rect": [
      755,
      800,
      115,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-192",
     "maxclass": "newobj",
     "text": "!/ 1.",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "float"
     ],
     "patching_rect": [
      755,
      830,
      115,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-193",
     "maxclass": "comment",
     "text": "a mono file plays at full level, a stereo file as (left + right) / 2: the gain is 1 / min(channels, 2), from sfinfo~",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      880,
      740,
      260.0,
      60.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-194",
     "maxclass": "inlet",
     "comment": "open, file 0/1, play 0/1, connect, disconnect (as the controls)",
     "numinlets": 0,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      190,
      450,
      30.0,
      30.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-195",
     "maxclass": "newobj",
     "text": "route open file play connect disconnect",
     "numinlets": 2,
     "numoutlets": 6,
     "outlettype": [
      "",
      "",
      "",
      "",
      "",
      ""
     ],
     "patching_rect": [
      230,
      455,
      260.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-196",
     "maxclass": "comment",
     "text": "driven from a parent patch (sideman.maxhelp) as by the controls",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      500,
      455,
      300.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-197",
     "maxclass": "comment",
     "text": "presets",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      1040,
      20,
      60.0,
      20.0
     ],
     "presentation": 1,
     "presentation_rect": [
      10.0,
      315.0,
      60.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-198",
     "maxclass": "newobj",
     "text": "route preset",
     "numinlets": 2,
     "numoutlets": 2,
     "outlettype": [
      "",
      ""
     ],
     "patching_rect": [
      1040,
      80,
      90.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-199",
     "maxclass": "newobj",
     "text": "route live wifi slow steady",
     "numinlets": 2,
     "numoutlets": 5,
     "outlettype": [
      "",
      "",
      "",
      "",
      ""
     ],
     "patching_rect": [
      1040,
      110,
      180.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-200",
     "maxclass": "newobj",
     "text": "unpack 0. 0 0 0. 0",
     "numinlets": 1,
     "numoutlets": 5,
     "outlettype": [
      "float",
      "int",
      "int",
      "float",
      "int"
     ],
     "patching_rect": [
      1040,
      170,
      180.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-201",
     "maxclass": "comment",
     "text": "each preset sets r w steps variation delay (unpack: right to left, so w before r); add your own: a message 'preset <name>' here and its values below",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      1240,
      170,
      260.0,
      48.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-202",
     "maxclass": "message",
     "text": "preset live",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1040,
      50,
      90.0,
      22.0
     ],
     "presentation": 1,
     "presentation_rect": [
      75.0,
      315.0,
      90.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-206",
     "maxclass": "message",
     "text": "0.25 1 0 1.0 0",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1040,
      140,
      95.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-203",
     "maxclass": "message",
     "text": "preset wifi",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1140,
      50,
      90.0,
      22.0
     ],
     "presentation": 1,
     "presentation_rect": [
      170.0,
      315.0,
      90.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-207",
     "maxclass": "message",
     "text": "0.25 1 0 1.0 50",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1140,
      140,
      95.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-204",
     "maxclass": "message",
     "text": "preset slow",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1240,
      50,
      90.0,
      22.0
     ],
     "presentation": 1,
     "presentation_rect": [
      265.0,
      315.0,
      90.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-208",
     "maxclass": "message",
     "text": "0.25 2 0 1.0 150",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1240,
      140,
      95.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-205",
     "maxclass": "message",
     "text": "preset steady",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1340,
      50,
      90.0,
      22.0
     ],
     "presentation": 1,
     "presentation_rect": [
      360.0,
      315.0,
      90.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-209",
     "maxclass": "message",
     "text": "0.25 1 0 0.5 0",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1340,
      140,
      95.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-210",
     "maxclass": "newobj",
     "text": "t b b",
     "numinlets": 1,
     "numoutlets": 2,
     "outlettype": [
      "bang",
      "bang"
     ],
     "patching_rect": [
      1180,
      450,
      50.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-211",
     "maxclass": "newobj",
     "text": "snapshot~ 0",
     "numinlets": 2,
     "numoutlets": 1,
     "outlettype": [
      "float"
     ],
     "patching_rect": [
      1180,
      480,
      80.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-212",
     "maxclass": "newobj",
     "text": "prepend tr_clock",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      1180,
      510,
      110.0,
      22.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-213",
     "maxclass": "comment",
     "text": "the clock and the transport in one metro event: sample-accurate with Overdrive and Scheduler in Audio Interrupt on",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      1320,
      450,
      200.0,
      48.0
     ]
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
   },
   {
    "patchline": {
     "source": [
      "obj-8",
      0
     ],
     "destination": [
      "obj-9",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-12",
      0
     ],
     "destination": [
      "obj-11",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-11",
      0
     ],
     "destination": [
      "obj-13",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-16",
      0
     ],
     "destination": [
      "obj-15",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-15",
      0
     ],
     "destination": [
      "obj-17",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-24",
      0
     ],
     "destination": [
      "obj-23",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-23",
      0
     ],
     "destination": [
      "obj-25",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-28",
      0
     ],
     "destination": [
      "obj-27",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-27",
      0
     ],
     "destination": [
      "obj-29",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-32",
      0
     ],
     "destination": [
      "obj-31",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-31",
      0
     ],
     "destination": [
      "obj-33",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-36",
      0
     ],
     "destination": [
      "obj-35",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-35",
      0
     ],
     "destination": [
      "obj-37",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-40",
      0
     ],
     "destination": [
      "obj-39",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-39",
      0
     ],
     "destination": [
      "obj-41",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-44",
      0
     ],
     "destination": [
      "obj-43",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-43",
      0
     ],
     "destination": [
      "obj-45",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-47",
      0
     ],
     "destination": [
      "obj-49",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-50",
      0
     ],
     "destination": [
      "obj-52",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-53",
      0
     ],
     "destination": [
      "obj-55",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-56",
      0
     ],
     "destination": [
      "obj-58",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-59",
      0
     ],
     "destination": [
      "obj-50",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-9",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-13",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-17",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-18",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-19",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-20",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-25",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-29",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-33",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-37",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-41",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-45",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-49",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-52",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-55",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-58",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-61",
      0
     ],
     "destination": [
      "obj-62",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-61",
      1
     ],
     "destination": [
      "obj-63",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-63",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-65",
      1
     ],
     "destination": [
      "obj-66",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-66",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-67",
      0
     ],
     "destination": [
      "obj-65",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-68",
      0
     ],
     "destination": [
      "obj-75",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-71",
      0
     ],
     "destination": [
      "obj-72",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-72",
      0
     ],
     "destination": [
      "obj-75",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      0
     ],
     "destination": [
      "obj-74",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-75",
      0
     ],
     "destination": [
      "obj-76",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-76",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-75",
      1
     ],
     "destination": [
      "obj-77",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-77",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-75",
      2
     ],
     "destination": [
      "obj-78",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-78",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-75",
      3
     ],
     "destination": [
      "obj-79",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-79",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-75",
      4
     ],
     "destination": [
      "obj-80",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-80",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-75",
      5
     ],
     "destination": [
      "obj-81",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-81",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-75",
      6
     ],
     "destination": [
      "obj-82",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-82",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-61",
      2
     ],
     "destination": [
      "obj-84",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-84",
      0
     ],
     "destination": [
      "obj-85",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-84",
      1
     ],
     "destination": [
      "obj-87",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-87",
      0
     ],
     "destination": [
      "obj-88",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-84",
      2
     ],
     "destination": [
      "obj-90",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-90",
      0
     ],
     "destination": [
      "obj-91",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-84",
      3
     ],
     "destination": [
      "obj-93",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-93",
      0
     ],
     "destination": [
      "obj-94",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-84",
      4
     ],
     "destination": [
      "obj-96",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-96",
      0
     ],
     "destination": [
      "obj-97",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-84",
      5
     ],
     "destination": [
      "obj-99",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-99",
      0
     ],
     "destination": [
      "obj-100",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-84",
      6
     ],
     "destination": [
      "obj-101",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-101",
      0
     ],
     "destination": [
      "obj-102",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-110",
      0
     ],
     "destination": [
      "obj-106",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-112",
      0
     ],
     "destination": [
      "obj-114",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-114",
      0
     ],
     "destination": [
      "obj-115",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-105",
      0
     ],
     "destination": [
      "obj-115",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-106",
      0
     ],
     "destination": [
      "obj-107",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-106",
      1
     ],
     "destination": [
      "obj-107",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-107",
      0
     ],
     "destination": [
      "obj-108",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-108",
      0
     ],
     "destination": [
      "obj-115",
      2
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-115",
      0
     ],
     "destination": [
      "obj-116",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-116",
      0
     ],
     "destination": [
      "obj-120",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-119",
      0
     ],
     "destination": [
      "obj-117",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-117",
      0
     ],
     "destination": [
      "obj-116",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-121",
      0
     ],
     "destination": [
      "obj-122",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-116",
      0
     ],
     "destination": [
      "obj-123",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-122",
      0
     ],
     "destination": [
      "obj-123",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-121",
      0
     ],
     "destination": [
      "obj-124",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-124",
      0
     ],
     "destination": [
      "obj-125",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-125",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-121",
      0
     ],
     "destination": [
      "obj-126",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-61",
      3
     ],
     "destination": [
      "obj-126",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-126",
      0
     ],
     "destination": [
      "obj-127",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-116",
      0
     ],
     "destination": [
      "obj-128",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-129",
      0
     ],
     "destination": [
      "obj-128",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-128",
      0
     ],
     "destination": [
      "obj-131",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-128",
      0
     ],
     "destination": [
      "obj-131",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-132",
      0
     ],
     "destination": [
      "obj-133",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-133",
      0
     ],
     "destination": [
      "obj-134",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-67",
      0
     ],
     "destination": [
      "obj-135",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-135",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-132",
      0
     ],
     "destination": [
      "obj-136",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-137",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-138",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-139",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-138",
      0
     ],
     "destination": [
      "obj-140",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-137",
      0
     ],
     "destination": [
      "obj-140",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-140",
      0
     ],
     "destination": [
      "obj-141",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-139",
      0
     ],
     "destination": [
      "obj-141",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-141",
      0
     ],
     "destination": [
      "obj-142",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-137",
      0
     ],
     "destination": [
      "obj-142",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-142",
      0
     ],
     "destination": [
      "obj-143",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-146",
      0
     ],
     "destination": [
      "obj-144",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-144",
      0
     ],
     "destination": [
      "obj-143",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-143",
      0
     ],
     "destination": [
      "obj-147",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-143",
      0
     ],
     "destination": [
      "obj-131",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-143",
      0
     ],
     "destination": [
      "obj-131",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-136",
      0
     ],
     "destination": [
      "obj-148",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-149",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-150",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-151",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-150",
      0
     ],
     "destination": [
      "obj-152",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-149",
      0
     ],
     "destination": [
      "obj-152",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-152",
      0
     ],
     "destination": [
      "obj-153",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-151",
      0
     ],
     "destination": [
      "obj-153",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-153",
      0
     ],
     "destination": [
      "obj-154",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-149",
      0
     ],
     "destination": [
      "obj-154",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-154",
      0
     ],
     "destination": [
      "obj-155",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-158",
      0
     ],
     "destination": [
      "obj-156",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-156",
      0
     ],
     "destination": [
      "obj-155",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-155",
      0
     ],
     "destination": [
      "obj-159",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-155",
      0
     ],
     "destination": [
      "obj-131",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-155",
      0
     ],
     "destination": [
      "obj-131",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-136",
      0
     ],
     "destination": [
      "obj-160",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-161",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-162",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-163",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-162",
      0
     ],
     "destination": [
      "obj-164",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-161",
      0
     ],
     "destination": [
      "obj-164",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-164",
      0
     ],
     "destination": [
      "obj-165",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-163",
      0
     ],
     "destination": [
      "obj-165",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-165",
      0
     ],
     "destination": [
      "obj-166",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-161",
      0
     ],
     "destination": [
      "obj-166",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-166",
      0
     ],
     "destination": [
      "obj-167",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-170",
      0
     ],
     "destination": [
      "obj-168",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-168",
      0
     ],
     "destination": [
      "obj-167",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-167",
      0
     ],
     "destination": [
      "obj-171",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-167",
      0
     ],
     "destination": [
      "obj-131",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-167",
      0
     ],
     "destination": [
      "obj-131",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-136",
      0
     ],
     "destination": [
      "obj-172",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-173",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-174",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-127",
      0
     ],
     "destination": [
      "obj-175",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-174",
      0
     ],
     "destination": [
      "obj-176",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-173",
      0
     ],
     "destination": [
      "obj-176",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-176",
      0
     ],
     "destination": [
      "obj-177",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-175",
      0
     ],
     "destination": [
      "obj-177",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-177",
      0
     ],
     "destination": [
      "obj-178",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-173",
      0
     ],
     "destination": [
      "obj-178",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-178",
      0
     ],
     "destination": [
      "obj-179",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-182",
      0
     ],
     "destination": [
      "obj-180",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-180",
      0
     ],
     "destination": [
      "obj-179",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-179",
      0
     ],
     "destination": [
      "obj-183",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-179",
      0
     ],
     "destination": [
      "obj-131",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-179",
      0
     ],
     "destination": [
      "obj-131",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-136",
      0
     ],
     "destination": [
      "obj-184",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-109",
      0
     ],
     "destination": [
      "obj-185",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-185",
      0
     ],
     "destination": [
      "obj-186",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-186",
      0
     ],
     "destination": [
      "obj-187",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-187",
      1
     ],
     "destination": [
      "obj-189",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-189",
      0
     ],
     "destination": [
      "obj-190",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-190",
      0
     ],
     "destination": [
      "obj-191",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-191",
      0
     ],
     "destination": [
      "obj-192",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-192",
      0
     ],
     "destination": [
      "obj-108",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-187",
      0
     ],
     "destination": [
      "obj-188",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-188",
      0
     ],
     "destination": [
      "obj-106",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-194",
      0
     ],
     "destination": [
      "obj-195",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-195",
      0
     ],
     "destination": [
      "obj-185",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-195",
      1
     ],
     "destination": [
      "obj-112",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-195",
      2
     ],
     "destination": [
      "obj-110",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-195",
      3
     ],
     "destination": [
      "obj-18",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-195",
      4
     ],
     "destination": [
      "obj-19",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-198",
      0
     ],
     "destination": [
      "obj-199",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-202",
      0
     ],
     "destination": [
      "obj-198",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-199",
      0
     ],
     "destination": [
      "obj-206",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-206",
      0
     ],
     "destination": [
      "obj-200",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-203",
      0
     ],
     "destination": [
      "obj-198",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-199",
      1
     ],
     "destination": [
      "obj-207",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-207",
      0
     ],
     "destination": [
      "obj-200",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-204",
      0
     ],
     "destination": [
      "obj-198",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-199",
      2
     ],
     "destination": [
      "obj-208",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-208",
      0
     ],
     "destination": [
      "obj-200",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-205",
      0
     ],
     "destination": [
      "obj-198",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-199",
      3
     ],
     "destination": [
      "obj-209",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-209",
      0
     ],
     "destination": [
      "obj-200",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-200",
      0
     ],
     "destination": [
      "obj-23",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-200",
      1
     ],
     "destination": [
      "obj-27",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-200",
      2
     ],
     "destination": [
      "obj-31",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-200",
      3
     ],
     "destination": [
      "obj-35",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-200",
      4
     ],
     "destination": [
      "obj-39",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-74",
      0
     ],
     "destination": [
      "obj-210",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-210",
      1
     ],
     "destination": [
      "obj-211",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-121",
      0
     ],
     "destination": [
      "obj-211",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-211",
      0
     ],
     "destination": [
      "obj-212",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-212",
      0
     ],
     "destination": [
      "obj-61",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-210",
      0
     ],
     "destination": [
      "obj-75",
      0
     ]
    }
   }
  ]
 }
}
