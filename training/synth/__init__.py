"""Synthetic multi-stem songs: procedural composition, soundfont rendering, data set writing."""
