"""Support tickets: the reply-time promise and what a ticket holds."""
