"""Persistence: tables, migrations, repositories and dialect-specific search."""
