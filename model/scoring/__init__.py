"""Batch scoring of tweet files (``python -m model score``): cli, stream, files, reader, pool."""
