"""Durable storage of collections: the interface every backend implements, the embedded
backend (SQLite and FAISS), one filter language and the catalog of collections."""
