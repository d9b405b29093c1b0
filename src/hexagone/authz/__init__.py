"""Authorisation: one pure policy decides every request (``policy.decide``)."""
