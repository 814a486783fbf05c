"""sideman: a real-time accompaniment partner for MAX/MSP and Pure Data.

The code lives in top-level folders installed as subpackages: ``sideman.server``
(``server/``), ``sideman.models`` (``models/``), ``sideman.training`` (``training/``),
``sideman.eval`` (``eval/``) and ``sideman.bench`` (``bench/``).
"""

__version__ = "0.1.0"
