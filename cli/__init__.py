"""The ``sideman`` command, all of it: one parser (:mod:`.main`), the shared option groups
(:mod:`.options`), ``--config`` files (:mod:`.config_file`) and one module per group of
subcommands, each turning options into the typed arguments of the part it runs:

* :mod:`.live`: ``serve``, ``client``, ``demo`` (``server/``, ``client/``);
* :mod:`.data` and :mod:`.train`: ``data synth|info|check|cache``, ``train ldm|cd|check|probe``
  (``training/``);
* :mod:`.evaluate`: ``eval sweep|merge|compare`` (``eval/``);
* :mod:`.bench`: ``bench``, ``soak`` (``bench/``).

Nothing outside this folder parses command lines; defaults live in the parts' dataclasses and
the options read them from there.
"""
