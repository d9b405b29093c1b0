"""Compute: the driver seam between host agents and hypervisors."""
