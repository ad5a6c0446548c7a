"""Alembic migrations (DESIGN.md section 3); a package so that the import contracts see them."""
