"""esb's schema history: Alembic revision scripts, oldest first (run by egactl; see docs/plugins.md, "Migrations")."""
