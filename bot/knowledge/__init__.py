"""The knowledge base in `faq/`: schema, loading and validation, hot reload. No Rasa imports."""
