"""Rasa graph components: thin adapters from Rasa's messages to `bot.matching`."""
