"""The prediction history: kept off the request path, written by one process, read by the app.

- ``extension``: the Flask glue: ``init_app`` picks the sink, ``History`` records and reads;
- ``queue``: a worker's bounded queue and the thread that drains it into a sink;
- ``client``: the sink under Gunicorn, a connection to the writer process;
- ``writer``: the writer process (a Gunicorn dirty app) inserting what the workers send;
- ``messages``: what crosses the socket (``Record`` frames) and the writer's state file;
- ``store``: the only code that writes or reads the database (with ``schema`` and ``engine``);
- ``outcome``: the ok flag, failure count and throttled warnings every writer keeps;
- ``errors``: the history's own exceptions.
"""
