"""Generators: codecs, the conditioned denoiser, samplers and the streaming pipeline.

Drivers use :func:`sideman.models.registry.load_generator` and the contract in
:mod:`sideman.models.base`; geometry lives in :mod:`sideman.models.geometry`.
"""
