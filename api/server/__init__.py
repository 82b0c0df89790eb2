"""What runs in Gunicorn's processes around the app: the worker, the logger, the master's hooks. No Flask."""
