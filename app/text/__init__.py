"""Text handling: chunking and sentence splitting.

Pure functions that import nothing else of the app.
"""
