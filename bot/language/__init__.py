"""Which language a message is in."""
