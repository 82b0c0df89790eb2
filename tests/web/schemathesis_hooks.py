"""schemathesis hooks for tests/web/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

A job's NDJSON upload is text, as a CSV one is: schemathesis sends it as it sends text/plain.
"""

import schemathesis

schemathesis.serializer.alias(["application/x-ndjson", "application/jsonl"], "text/plain")
