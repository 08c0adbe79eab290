"""The language models the service serves."""
