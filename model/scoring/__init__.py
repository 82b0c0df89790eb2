"""Batch scoring of tweet files (``python -m model score``)."""
