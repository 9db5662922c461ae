"""Benchmarks that print ratios between compared variants measured in the same run.

Each script starts what it needs (simulator, a throwaway PostgreSQL database, gunicorn) and is
run from the repository root, e.g. ``.venv/bin/python bench/sync.py``. Figures are recorded in
``docs/benchmarks.md``. Tests never assert timings; they assert query counts instead.
"""
