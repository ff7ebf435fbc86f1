# The README's two commands: `make demo` and `make test`. Both set up .venv on their own.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint pytest bench bench-live bench-daemon bench-rollout schemas fuzz clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" ./scripts/demo.sh

test: lint pytest

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests bench scripts fuzz
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-daemon: $(STAMP)
	$(BIN)/python -m bench.daemon

bench-live: $(STAMP)
	$(BIN)/python -m bench.live

bench-rollout: $(STAMP)
	$(BIN)/python -m bench.rollout

# Fuzzing (not part of `make test`): each target runs FUZZ_SECONDS under atheris, one after the other.
# New inputs and crashes go to a temporary directory; a crash stops the run and says where it is.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= yaml config plan snapshot webhook
FUZZ_FLAGS   ?=
FUZZ_STAMP   := $(VENV)/.fuzz-stamp

$(FUZZ_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,fuzz]'
	touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP)
	@work=$$(mktemp -d); for target in $(FUZZ_TARGETS); do \
	  mkdir -p $$work/$$target/new; echo "fuzz $$target: $(FUZZ_SECONDS) s"; \
	  if ! $(BIN)/python -m fuzz.fuzz_$$target $$work/$$target/new fuzz/corpus/$$target \
	      -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	      -artifact_prefix=$$work/$$target/ $(FUZZ_FLAGS) > $$work/$$target/log 2>&1; then \
	    grep -v '^INFO: Instrumenting' $$work/$$target/log | tail -n 40; \
	    echo "fuzz $$target found a crash: $$work/$$target/ (minimize it, fix it, add it to fuzz/regressions/$$target/)"; \
	    exit 1; \
	  fi; \
	  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|new_units_added)' $$work/$$target/log; \
	done; rm -rf $$work

schemas: $(STAMP)
	$(BIN)/reconciler schema --out schemas

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache
