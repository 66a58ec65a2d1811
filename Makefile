# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch is installed first and pinned: the CPU build of 2.13.0 is the one the machine carries.
# The encoder's int8 ONNX export is made once here, not by every process of the first start.
EXPORT_ENCODER := $(BIN)/python -c "from agentmesh.embeddings import int8_model_file; int8_model_file()"

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	$(EXPORT_ENCODER)
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	$(EXPORT_ENCODER)
	touch $(STAMP) $@

run: $(STAMP)
	$(BIN)/agentmesh up

test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy agentmesh gateway host policies mcp_servers
	$(BIN)/python -m pytest

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy agentmesh gateway host policies mcp_servers

clean:
	rm -rf $(VENV)
