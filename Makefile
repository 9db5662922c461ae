# The portal's everyday commands. `make demo` runs it on a simulated vCenter with embedded
# defaults (SQLite, eager Celery); `make test` runs the whole suite.
PY := .venv/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

.PHONY: bootstrap demo test lint format worker beat

bootstrap:
	bash scripts/bootstrap.sh

demo: bootstrap
	$(PY) scripts/write_env.py
	$(PY) manage.py demo --port $(PORT)

test:
	bash scripts/bootstrap.sh --browser
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run

format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

worker:
	.venv/bin/celery -A kstack_naguan worker --loglevel=INFO

beat:
	.venv/bin/celery -A kstack_naguan beat --loglevel=INFO
