"""semsearch: self-hosted semantic search over your own documents."""

import os

# How long an idle OpenMP thread (torch's and FAISS's) spins before it sleeps. libgomp's own
# default (300,000 spins) keeps torch's threads spinning on both cores of a small machine well
# after an encoder call, starving the FAISS search and the HTTP work that follow it: a search of
# 8 queries right after an encoder call took 15 to 17 ms against 8 to 10 ms with 10,000 spins,
# which encode as fast. Read when torch and FAISS load, so it is set before either is imported;
# a value in the environment wins.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

__version__ = "0.1.0"
