"""The client's local store: SQLite through SQLAlchemy, no Qt."""
