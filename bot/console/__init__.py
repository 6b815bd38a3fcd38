"""The agent console: agents, their log-ins, the queue and the live chat, served by the Rasa server."""
