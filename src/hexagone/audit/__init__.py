"""The hash-chained audit trail of every authentication and every change."""
