"""The embedded backend: one folder per collection, SQLite (WAL) as the source of truth and
a FAISS index as a snapshot of its vectors."""
