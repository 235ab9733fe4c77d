# Two commands for a fresh Debian 12 machine:  make demo  |  make test
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_STAMP := $(VENV)/.apt-installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test venv apt-test lint samples bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml tools/pyproject.toml
	# The runtime (edge, cameras, calibration) and, as its own distribution, the developer tools (tools/).
	$(BIN)/pip install -q -e '.[test]' -e tools
	# PP-OCRv4 files (best on rotated vertical strips). --no-deps: its GUI opencv would clobber the headless one.
	$(BIN)/pip install -q --no-deps rapidocr_onnxruntime==1.4.4
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests drive for real: a Mosquitto broker, PostgreSQL for the gate hub (the tests run their
# own cluster on a free port as the `postgres` user), and the CJK font the sample generator draws Chinese plates
# with (its determinism test regenerates a clip).
APT_TEST := mosquitto postgresql fonts-wqy-microhei fonts-dejavu-core chromium
$(APT_STAMP):
	@missing=$$(for p in $(APT_TEST); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@mkdir -p $(VENV) && touch $(APT_STAMP)

apt-test: $(APT_STAMP)

demo: $(STAMP)
	$(BIN)/smartgate run --demo

test: $(STAMP) $(APT_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

# Regenerate the synthetic sample footage (needs the fonts below; the clips are committed).
samples: $(STAMP)
	@fc-list | grep -qi wqy || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei fonts-dejavu-core fonts-liberation2 >/dev/null)
	$(BIN)/python -m data_samples.generate --out data_samples/clips --seed 7

# Dense stress footage (a truck every ~7 s per lane): throughput, cameras sustained, decision latency.
# Then the busy-hour footage (a truck a minute per lane, the planned 2030 traffic at twice its average;
# rendered once into var/, ~2 min): throughput against the naive baseline at realistic traffic.
bench: $(STAMP) var/clips/traffic/in1/truth.json
	$(BIN)/smartgate bench --json var/bench.json --report var/bench
	$(BIN)/smartgate bench --samples var/clips/traffic --config data_samples/demo.yaml --skip-realtime \
		--naive-every 4 --json var/bench_traffic.json --report var/bench_traffic

var/clips/traffic/in1/truth.json: $(STAMP) data_samples/generate.py
	$(BIN)/python -m data_samples.generate --out var/clips --seed 7 --sets traffic

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
