"""Rasa input channels the product adds: the chat widget's socket.io channel."""
