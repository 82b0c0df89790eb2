"""`make bench`: how fast the pipeline and the server are, and what they cost in memory.

Run with ``python -m bench`` (``make bench`` installs wrk first). Results go to
stdout as a table, to ``bench/results/`` as JSON, and as a PNG plot beside it.
"""
