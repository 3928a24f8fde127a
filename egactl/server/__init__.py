"""The reference backend: the executable form of egactl's REST contract.

Imported only by the sandbox and ``egactl serve`` (FastAPI and SQLAlchemy are
heavy). ``app.create_app`` assembles the core routes and every plugin's
``BackendPart``.
"""
