"""sideman: a real-time accompaniment partner for MAX/MSP and Pure Data.

The code lives in top-level folders installed as subpackages: ``sideman.server``
(``server/``), ``sideman.client`` (``client/``), ``sideman.models`` (``models/``),
``sideman.training`` (``training/``), ``sideman.eval`` (``eval/``) and ``sideman.bench``
(``bench/``). Where each part lives and how a hop travels: docs/ARCHITECTURE.md.
"""

__version__ = "0.1.0"
