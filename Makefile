# The two commands of the README, and the rest of the day-to-day tasks.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000
# Two test processes by default (CI's machines have two cores); `make test PYTEST_ARGS=...` to change.
PYTEST_ARGS ?= -n 2

.PHONY: run test lint format worker beat migrate demo bench bench-http bench-rewards audit clean

# .venv is rebuilt when the requirements change; the stamp file remembers the last install.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: install it or run 'make PYTHON=/path/to/python3.11 ...'"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv ## Set up, load demo data, serve the portal on http://127.0.0.1:8000
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py demo_load
	$(BIN)/python manage.py runserver $(HOST)

test: venv ## Run the test suite (SQLite unless DATABASE_URL says otherwise)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: venv
	$(BIN)/python manage.py migrate --no-input

demo: migrate
	$(BIN)/python manage.py demo_load

audit: venv
	$(BIN)/python manage.py audit_ledger

worker: venv ## A Celery worker (needs CELERY_BROKER_URL, e.g. redis://127.0.0.1:6379/0)
	$(BIN)/celery -A loyalty_site worker --loglevel=info

beat: venv ## The Celery beat scheduler: exactly one per deployment
	$(BIN)/celery -A loyalty_site beat --loglevel=info

bench: venv ## Ledger benchmarks: DATABASE_URL names a PostgreSQL server; each script makes its own bench_* database
	$(BIN)/python bench/ledger_throughput.py
	$(BIN)/python bench/expiry_sweep.py

bench-http: venv ## The order API over gunicorn vs a bare view and pgbench (needs wrk, pgbench, Redis): bench/README.md
	$(BIN)/python bench/http_intake.py

bench-rewards: venv ## A member's rewards, the API and the page, over gunicorn under load (needs wrk, Redis): bench/README.md
	$(BIN)/python bench/rewards_reads.py

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
