"""Normalising and fuzzy matching of customer messages. No Rasa imports."""
