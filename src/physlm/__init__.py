"""Reproducing the "Physics of Language Models" findings as a Snakemake pipeline."""

__version__ = "0.1.0"
