"""What serving a prediction needs: text, features, the two model kinds and their base, labels, artifacts,
the registry and time-sized chunks."""
