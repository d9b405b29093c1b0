"""Route modules of the native API, one per area."""
