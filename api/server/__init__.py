"""What runs in Gunicorn's processes around the app, without Flask: the worker (worker, protocol,
connections, tls), its logger (logger) and the master's hooks (balance, multiproc)."""
