"""Outgoing webhooks: where the control plane may send them (``rules``), the one outbox every
use case writes to (``outbox``) and the HTTP adapter that delivers them (``sender``)."""
