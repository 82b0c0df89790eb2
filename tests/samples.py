"""Small labelled data made by the tests themselves."""

import csv

POSITIVE = ["i love this, best day ever :)", "so happy and excited, great fun", "thank you, awesome friends"]
NEGATIVE = ["i hate this, worst day ever :(", "so sad and tired, awful pain", "miss you, bad news, sick"]


def write_csv(path, per_class=40):
    """Write a small labelled CSV in the shared data set's layout (id,date,text,target)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "date", "text", "target"])
        for i in range(per_class):
            writer.writerow([2 * i, "2009-06-01", f"{NEGATIVE[i % 3]} #{i % 5}", 0])
            writer.writerow([2 * i + 1, "2009-06-01", f"{POSITIVE[i % 3]} #{i % 7}", 1])
    return path
