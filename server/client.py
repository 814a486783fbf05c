"""Moved: the reference client is :mod:`sideman.client` (``client/``).

Kept only for ``tests/test_max_patches.py`` and ``tests/test_pd_patch.py`` (edited on
another branch), which import ``StemWriter`` from here; delete this file once they import
``sideman.client``.
"""

from sideman.client.writer import StemWriter

__all__ = ["StemWriter"]
