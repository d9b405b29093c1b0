"""Implementations of ``hexagone.compute.driver.ComputeDriver``: ``fake`` and ``qemu``."""
