"""The files in an embedded collection's folder (and in a snapshot of it)."""

DOCSTORE_FILE = "docstore.sqlite"
SNAPSHOT_FILE = "vectors.faiss"
