"""The PostgreSQL + pgvector backend: every collection in one database, so that any number of
API processes can share it."""
