"""Hexagone: an open-source sovereign cloud platform."""

__version__ = "0.1.0"
