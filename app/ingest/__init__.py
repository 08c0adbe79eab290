"""Turning incoming text into chunks ready to embed."""
