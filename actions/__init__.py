"""rasa-sdk actions: render FAQ answers, "did you mean", feedback. Stateless."""

from bot.security.redaction import product_redactor, redact_logs

# rasa-sdk has set up logging by the time it imports this package.
redact_logs(product_redactor())
