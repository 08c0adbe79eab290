"""Durable storage: SQLite as the source of truth, FAISS as a searchable snapshot."""
