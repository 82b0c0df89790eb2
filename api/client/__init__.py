"""A typed Python client of the API (README, "Python client"): TLS verified, the token kept out of
sight, 429s retried after their Retry-After, long predicts split within the server's limits.

It needs urllib3 and nothing of the server: a program can copy api/client/ alone.
"""

from api.client.auth import TOKEN_ENV
from api.client.client import Client
from api.client.errors import ClientError
from api.client.results import Model, Predictions, StoredPrediction

__all__ = ["TOKEN_ENV", "Client", "ClientError", "Model", "Predictions", "StoredPrediction"]
