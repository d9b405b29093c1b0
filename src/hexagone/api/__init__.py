"""The HTTP entry point: FastAPI app, thin route handlers, error mapping."""
