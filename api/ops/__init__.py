"""The operator's commands (``python -m api``, ``make certs``) and the secrets they make."""
