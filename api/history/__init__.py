"""The prediction history: kept off the request path, written by one process, read by the app."""
