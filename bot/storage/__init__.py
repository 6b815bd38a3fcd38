"""SQL storage of what the bot records (SQLAlchemy 1.4; SQLite by default)."""
