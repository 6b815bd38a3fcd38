"""What keeps the public surface safe: the API guard and the message rate limits."""
