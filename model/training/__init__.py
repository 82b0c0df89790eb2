"""Training and evaluation from the labelled tweet set: data, fit, metrics, the report."""
