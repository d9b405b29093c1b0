"""Admission control: who may start how much work, and what is refused before it starts.

    limits.py   rate limits (token buckets) behind the ``RateLimiter`` contract, and the tally that
                aggregates failed logins for unknown names (pure: time is an argument)
    slots.py    ``BoundedSlots``: a semaphore with a bounded queue and a maximum wait, for the
                password hasher (threads)
    gate.py     ``Gate``: per-principal concurrency and the process's slots for heavy requests
                (list pages, exports), on the event loop, before any thread is taken
    control.py  ``Admission``: the above built from the settings, as one object the app holds

Everything here is per process. A region of N API processes multiplies every limit by N until
the ``RateLimiter`` contract gets a PostgreSQL implementation (see ``limits.RateLimiter``).
"""
