"""The sentiment API, one subpackage per concern (ARCHITECTURE.md draws how they meet).

- ``api.web``: the Flask app (factory, views, errors, validation, auth, limits, OpenAPI);
- ``api.history``: the prediction history (store, queue, wire message, writer process);
- ``api.server``: Gunicorn's processes around the app (worker, logger, balance, TLS, metrics files);
- ``api.ops``: the operator's commands and the secrets they make (tokens, certificates).

The modules here are shared by them and import no Flask: settings, names, errors, log lines, files.
"""
