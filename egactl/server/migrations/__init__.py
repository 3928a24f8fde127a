"""The core's schema history: Alembic revision scripts for the core's tables
(tokens, institutions, audit log, idempotency store), run by egactl.server.schema.

``0001`` is the first release's schema. A change to egactl/server/models.py
comes with a new revision here (``down_revision`` = the current head); the
test tests/core/test_migrations_upgrade.py fails until it does.
"""
