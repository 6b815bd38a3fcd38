"""Handing a conversation to a person: triggers, the packet, delivery."""
