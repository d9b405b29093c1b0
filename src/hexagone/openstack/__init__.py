"""The OpenStack API facade: Keystone v3, Nova v2.1, Glance v2 and Neutron v2.0 shapes over the
same services, models and policy as the native API (no second data model).

Mount points: ``/identity``, ``/compute`` (``/compute/v2.1``), ``/image``, ``/networking``.
See ``docs/openstack-compatibility.md`` for what is covered and every known difference.
"""

from __future__ import annotations

from hexagone.openstack import glance, keystone, neutron, nova, servers

ROUTERS = [keystone.router, nova.router, glance.router, neutron.router]

__all__ = ["ROUTERS", "servers"]
