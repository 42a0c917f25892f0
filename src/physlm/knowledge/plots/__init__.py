"""Figures of the knowledge domain: one module per finding's figure."""
