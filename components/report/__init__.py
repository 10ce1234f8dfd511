"""The evaluation report: a run's numbers (summary.py), its plots (plots.py) and one
self-contained HTML page (html.py)."""
