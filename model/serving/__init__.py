"""What serving a prediction needs: text, features, the two model kinds, labels, artifacts, registry."""
