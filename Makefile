# The two commands for a fresh machine (see README.md):
#   make acceptance   the main job: acceptance suite on the default backend + HTML report
#   make test         pytest + the acceptance suite on every backend this machine can run
# Each does its own set-up: .venv, a Docker engine and images where possible, the Allure renderer.

BEHAVE_ARGS ?=

.PHONY: acceptance test report setup engine tools allure pytest mutation mutation-survivors \
	fuzz bench-vs-moosefs bench-regression-rates allocation-numbers region-numbers tls-numbers \
	clean

acceptance: setup engine tools allure
	.venv/bin/behave $(BEHAVE_ARGS); status=$$?; scripts/render-report.sh; exit $$status

test: setup engine tools
	scripts/run-tests.sh

report: allure
	scripts/render-report.sh

pytest: setup
	.venv/bin/pytest -q

# Hypothesis explores new examples (make test replays a fixed set): FUZZ_EXAMPLES per test.
FUZZ_EXAMPLES ?= 300
fuzz: setup
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) .venv/bin/pytest -q tests/test_fuzz_model.py tests/test_fuzz_grpc.py

# Long campaign (about 55 minutes): cosmic-ray mutants of MooseNG judged by pytest and the
# acceptance suite; report in reports/mutation/. GROUPS= limits it (mutation/campaign.toml).
mutation: setup
	.venv/bin/python scripts/mutation.py run $(GROUPS)

mutation-survivors: setup
	.venv/bin/python scripts/mutation.py survivors $(GROUPS)

# The mooseng bench workloads on MooseFS 3.0 and on MooseNG side by side (root and FUSE; see
# README). BENCH_ARGS passes options: BENCH_ARGS="--rounds 1 --size 64MiB --files 200".
bench-vs-moosefs: setup
	.venv/bin/python scripts/bench_vs_moosefs.py $(BENCH_ARGS)

# How well `mooseng bench check` tells a slowdown from noise here (about 20 minutes): false
# alarms in 20 noise-only comparisons, detections of an injected 15 % slowdown.
bench-regression-rates: setup
	.venv/bin/python scripts/bench_regression_rates.py $(BENCH_ARGS)

allocation-numbers: setup
	.venv/bin/python scripts/allocation_numbers.py $(BENCH_ARGS)

region-numbers: setup
	.venv/bin/python scripts/region_numbers.py $(BENCH_ARGS)

# What mutual TLS on every link costs (about 5 minutes): mooseng bench's workloads with and
# without TLS, interleaved; BENCH_ARGS="--rounds 5 --size 256MiB".
tls-numbers: setup
	.venv/bin/python scripts/tls_numbers.py $(BENCH_ARGS)

setup:
	@scripts/setup-venv.sh

engine: setup
	@if scripts/ensure-docker.sh; then scripts/build-images.sh; \
	else echo "setup: no Docker engine here; acceptance runs fall back to the local backend"; fi

# Debian packages the suite runs itself: Prometheus (metrics accuracy), etcd (several masters),
# chromium (the dashboard, through Playwright)
tools:
	@scripts/ensure-debian-package.sh prometheus "the @needs.prometheus scenarios" \
		prometheus promtool
	@scripts/ensure-debian-package.sh etcd-server "the @needs.etcd scenarios and tests" etcd
	@scripts/ensure-debian-package.sh chromium "the @needs.browser scenarios (the dashboard)" \
		chromium

allure:
	@scripts/install-allure.sh

clean:
	rm -rf reports/allure-results reports/allure-report reports/junit .cache/wheelhouse
