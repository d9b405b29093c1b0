"""Identity: organisations, projects, users, credentials (passwords, tokens, API keys, TOTP)."""
