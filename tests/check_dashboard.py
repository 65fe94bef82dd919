#!/usr/bin/env python3
"""check_dashboard.py DASHBOARD SCRAPE: the Grafana dashboard is valid JSON
of the expected shape, and every metric name its queries use appears in a
real /metrics scrape (check_metrics.c writes SCRAPE). Exit 0, or 1 with
one line per problem."""
import json
import re
import sys


def samples(path):
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def exprs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("expr", "query") and isinstance(v, str):
                yield v
            else:
                yield from exprs(v)
    elif isinstance(node, list):
        for v in node:
            yield from exprs(v)


def main():
    dash_path, scrape_path = sys.argv[1], sys.argv[2]
    with open(dash_path, encoding="utf-8") as f:
        dash = json.load(f)  # fails loudly on invalid JSON
    problems = []
    if not isinstance(dash.get("schemaVersion"), int):
        problems.append("no schemaVersion")
    if not dash.get("panels"):
        problems.append("no panels")
    have = samples(scrape_path)
    used = set()
    for e in exprs(dash):
        used.update(re.findall(r"\b((?:ssehub|process)_[a-z0-9_]+)", e))
    if not used:
        problems.append("no metric used in any query")
    for name in sorted(used - have):
        problems.append("dashboard uses %s, not in the scrape" % name)
    for p in problems:
        print("check_dashboard: %s" % p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
