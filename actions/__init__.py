"""rasa-sdk actions: render FAQ answers, "did you mean", feedback. Stateless."""
