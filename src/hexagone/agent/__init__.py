"""The host agent: joins a region, pulls its host's desired state, converges it through a
``ComputeDriver`` and reports what it observes. It speaks HTTP only; it never sees the database."""
