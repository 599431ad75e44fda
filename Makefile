# netlab's front door. Targets stay thin: they delegate to the set-up script, npm scripts and the
# `netlab` CLI. Every target finds Node 24 first on PATH (installed into .tools/ when the machine's
# node is older) and does its own set-up, so a fresh clone needs nothing but `make dev` or `make test`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export PATH := $(CURDIR)/.tools/node/bin:$(CURDIR)/node_modules/.bin:$(PATH)
SETUP := infra/scripts/setup.sh
NETLAB := node infra/lab/dist/main.js
# Extra jest arguments, e.g. make test JEST_ARGS='services/shared'
JEST_ARGS ?=

.PHONY: help install build dev status test test-unit test-int lint typecheck format bench k6 clean

help: ## List the targets
	@printf 'netlab — make targets\n\n'
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@printf '\nStart with: make dev (run the lab) · make test (run every test)\n'

install: ## Set up Node 24, npm dependencies, nats-server, MariaDB and Chromium (idempotent)
	@$(SETUP)

build: install ## Compile every workspace (tsc -b, project references)
	@npm run --silent build

dev: build ## Run the lab natively under the netlab supervisor (Ctrl-C stops it)
	@$(NETLAB) up

status: ## Show the running lab: parts, instances, pids, URLs (needs `make dev` elsewhere)
	@$(NETLAB) status

test: build ## Run unit and integration tests (real nats-server, real sockets)
	@npx jest $(JEST_ARGS)

test-unit: install ## Run only the unit tests (*.test.ts)
	@npx jest --selectProjects unit $(JEST_ARGS)

test-int: build ## Run only the integration tests (*.int.test.ts)
	@npx jest --selectProjects integration $(JEST_ARGS)

lint: install ## ESLint (typed rules) and Prettier
	@npm run --silent lint

typecheck: install ## Type-check sources and tests without emitting
	@npm run --silent typecheck

format: install ## Rewrite files with Prettier
	@npm run --silent format

bench: build ## Run every load/bench comparison (pinned, against peers); reports in load/results/
	@infra/scripts/setup.sh bench
	@for run in load/bench/*/run.ts; do \
	  echo "== $$run"; node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON "$$run" || exit 1; \
	done

k6: ## Build k6 from source with the Go toolchain (pinned) into .bin/k6
	@infra/scripts/setup.sh k6
	@.bin/k6 version

clean: ## Remove build output and lab state (keeps node_modules and .tools)
	@rm -rf services/*/dist gateway/dist infra/*/dist .lab
	@find . -name '*.tsbuildinfo' -not -path './node_modules/*' -delete
