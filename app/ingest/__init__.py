"""Files into documents: parsers for each file type, the folders the CLI walks, uploads."""
