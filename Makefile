# `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := demo-workspace
DEMO_KEYS := demo-keys
DEMO_CASEFILE := demo-casefile
DEMO_MEMORIAL := demo-memorial
DK     := $(BIN)/dadkhah --workspace $(DEMO)

# Browser tests drive Debian's Chromium with Playwright (no browser is downloaded); the PDF tests read
# text back with Poppler's pdftotext, as a reader copying it would get it; the timestamp tests run a
# local time-stamping authority with OpenSSL's `openssl ts -reply`.
CHROMIUM ?= /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_SERVE ?= yes

.PHONY: install browser demo test test-slow bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) $(VENV)/.lcmcr-compiled-stamp $(VENV)/.bytecode-stamp

# Our own modules compiled to bytecode beside their source, as Python does by itself on a first
# run unless PYTHONDONTWRITEBYTECODE is set (it is on some CI machines, this project's among them):
# then every `dadkhah` command compiled them again, 0.4 s of each. Redone for the sources changed.
$(VENV)/.bytecode-stamp: $(STAMP) $(shell find src -name '*.py')
	$(BIN)/python -m compileall -q src
	touch $@

# The LCMCR samplers compiled into numba's cache (src/dadkhah/estimate/__pycache__, beside the
# source), so that the first estimate does not spend ~25 s compiling; redone only when that source
# or the installed packages change.
$(VENV)/.lcmcr-compiled-stamp: $(STAMP) src/dadkhah/estimate/lcmcr.py
	$(BIN)/python -c 'from dadkhah.estimate.lcmcr import warm_up; warm_up()'
	touch $@

browser:
	test -x $(CHROMIUM) || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null)
	command -v pdftotext >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq poppler-utils >/dev/null)
	command -v openssl >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openssl >/dev/null)

# The main job: a fresh synthetic case, imported, linked into persons, checked against its truth,
# the total estimated overall and by city (with a chart), a synthetic testimony and an evidence file
# sealed, the synthetic accountability set imported (institutions, officials, acts, sites), a synthetic
# ODK Central download of witness statements taken in, a synthetic open letter published with a few
# paper signatures and printed as a Persian PDF, a signed case file with two persons and one
# official's dossier exported and verified, the memorial published, the report of the published
# victims printed as a Persian PDF, the published record exported (XLSX, Popolo, Uwazi), summarised,
# and a read-only API token made for the demo user. The demo's key file sits beside the
# workspace (never inside it) so that each run starts afresh.
demo: install
	rm -rf $(DEMO) $(DEMO_KEYS) $(DEMO_CASEFILE) $(DEMO_MEMORIAL)
	$(BIN)/dadkhah init $(DEMO) --key-file $(DEMO_KEYS)/demo.key
	$(DK) synth --victims 5000 --lists 6 --cities 32 --seed 1988 --out $(DEMO)/synthetic-case
	for f in $(DEMO)/synthetic-case/list-*.csv; do \
	  $(DK) import "$$f" --source "$$(basename "$$f" .csv)" --incident "Synthetic prison executions" || exit 1; \
	done
	$(DK) link run
	$(DK) link evaluate --truth $(DEMO)/synthetic-case/truth.csv
	$(DK) estimate run --method lcmcr --seed 1988 --linkage-thresholds 0.5,0.9,0.99
	$(DK) estimate run --method lcmcr --seed 1988 --by city --plot $(DEMO)/estimate-by-city.svg --plot-language fa
	$(DK) evidence add $(DEMO)/synthetic-case/list-1.csv --source list-1 --description "list 1 as received (synthetic)" --about P-000001
	printf 'Synthetic testimony for the demo: the people in it do not exist.\n' > $(DEMO_KEYS)/transcript.txt
	printf 'name = "Demo Witness (synthetic)"\n' > $(DEMO_KEYS)/witness.toml
	$(DK) testimony add --witness-file $(DEMO_KEYS)/witness.toml --transcript $(DEMO_KEYS)/transcript.txt \
	  --language en --consent investigators,courts --about P-000001
	$(DK) accountability import $(DEMO)/synthetic-case/accountability --source synthetic-report
	$(DK) intake odk $(DEMO)/synthetic-case/field/witness_statement.zip --mapping $(DEMO)/synthetic-case/field/odk-mapping.toml
	$(DK) officials show SO-0001 --acts-limit 5
	$(DK) appeal create --slug synthetic-inquiry --title "For an independent inquiry (synthetic)" \
	  --title-fa "برای تحقیقی مستقل (ساختگی)" --text $(DEMO)/synthetic-case/appeal/letter.txt \
	  --text-fa $(DEMO)/synthetic-case/appeal/letter-fa.txt --addressee "A fictional Secretary-General"
	$(DK) appeal publish synthetic-inquiry
	while IFS='|' read -r name kind role affiliation country public; do \
	  $(DK) appeal sign synthetic-inquiry --name "$$name" --kind "$$kind" --role "$$role" --affiliation "$$affiliation" \
	    --country "$$country" --$$public --verified-by demo-reviewer --json >/dev/null || exit 1; \
	done < $(DEMO)/synthetic-case/appeal/signatories.txt
	$(DK) appeal show synthetic-inquiry
	$(DK) appeal export synthetic-inquiry --format pdf --language fa --out $(DEMO)/appeal-fa.pdf
	$(DK) export casefile --out $(DEMO_CASEFILE) --recipient "Demo recipient" --scope investigators --person P-000001 --person P-000002 --official SO-0001
	$(BIN)/dadkhah verify $(DEMO_CASEFILE) --expect-key "$$($(DK) keys show --json | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')"
	for f in $(DEMO)/synthetic-case/list-*.csv; do $(DK) sources set "$$(basename "$$f" .csv)" --release public --json >/dev/null || exit 1; done
	$(DK) sources set synthetic-report --release public --json >/dev/null
	$(DK) persons withhold P-000002 --reason "synthetic: a family asked" --json >/dev/null
	$(DK) publish memorial --out $(DEMO_MEMORIAL) --contact corrections@example.org
	$(BIN)/dadkhah verify-site $(DEMO_MEMORIAL) --expect-key "$$($(DK) keys show --json | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)["fingerprint"])')"
	$(DK) report pdf --out $(DEMO)/report-fa.pdf --lang fa
	mkdir -p $(DEMO)/exports
	$(DK) export persons --out $(DEMO)/exports/persons.xlsx --format xlsx
	$(DK) export popolo --out $(DEMO)/exports/popolo.json
	$(DK) export uwazi --template acts --out $(DEMO)/exports/uwazi-acts.zip
	$(DK) custody verify
	$(DK) audit verify
	$(DK) report summary
	$(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(15))' > $(DEMO_KEYS)/demo-password.txt
	$(DK) users add demo --role admin --password-file $(DEMO_KEYS)/demo-password.txt
	@echo "Demo login: user 'demo', password '$$(cat $(DEMO_KEYS)/demo-password.txt)' (synthetic case; the password is in $(DEMO_KEYS)/demo-password.txt)"
	$(DK) tokens create --user demo --scope read --name demo > $(DEMO_KEYS)/demo-token.txt
	@echo "A read-only API token for the demo is in $(DEMO_KEYS)/demo-token.txt: curl -H \"Authorization: Bearer $$(cat $(DEMO_KEYS)/demo-token.txt)\" http://127.0.0.1:8000/api/v1/me"
	@if [ "$(DEMO_SERVE)" = yes ]; then echo "Serving the demo case at http://127.0.0.1:8000/ (Ctrl-C stops; make demo DEMO_SERVE=no skips this)"; \
	  $(DK) serve --host 127.0.0.1 --port 8000; fi

test: install browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 -m "not slow"

test-slow: install
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	$(BIN)/python -m pytest -m slow

bench: install
	$(BIN)/python benchmarks/import_bench.py
	$(BIN)/python benchmarks/link_compare_bench.py
	$(BIN)/python benchmarks/review_band_bench.py
	$(BIN)/python benchmarks/review_queue_bench.py
	$(BIN)/python benchmarks/link_bench.py
	$(BIN)/python benchmarks/lcmcr_bench.py
	$(BIN)/python benchmarks/bootstrap_bench.py
	$(BIN)/python benchmarks/bootstrap_bench.py --by city
	$(BIN)/python benchmarks/bootstrap_bench.py --by city --method auto --lists 5 --victims 3000
	$(BIN)/python benchmarks/evidence_bench.py
	$(BIN)/python benchmarks/accountability_bench.py
	$(BIN)/python benchmarks/audit_bench.py
	$(BIN)/python benchmarks/web_bench.py
	$(BIN)/python benchmarks/appeal_bench.py
	$(BIN)/python benchmarks/memorial_bench.py
	$(BIN)/python benchmarks/report_bench.py
	$(BIN)/python benchmarks/report_bench.py --via job
	$(BIN)/python benchmarks/report_bench.py --document letter
	$(BIN)/python benchmarks/backup_bench.py
	$(BIN)/python benchmarks/web_load_bench.py
	$(BIN)/python benchmarks/crash_bench.py --runs 10

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(DEMO) $(DEMO_KEYS) $(DEMO_CASEFILE) $(DEMO_MEMORIAL) .pytest_cache .hypothesis
