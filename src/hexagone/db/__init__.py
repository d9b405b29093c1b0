"""Adapters to the state store: SQLAlchemy models, engine and sessions, Alembic migrations."""
