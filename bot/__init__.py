"""The support bot: knowledge base, matcher, Rasa components, storage and CLI."""
