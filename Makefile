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
# Extra docker compose arguments, e.g. make up COMPOSE_ARGS='--scale static=3'
COMPOSE_ARGS ?=

.PHONY: help install build dev up down logs ps status test test-unit test-int lint typecheck format bench k6 load load-smoke load-compare clean

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

up: ## Run the containerized lab: docker compose up --wait (writes .env with random passwords once)
	@infra/docker/init-env.sh
	@docker compose up --build --wait $(COMPOSE_ARGS)

down: ## Stop the containerized lab (volumes kept; COMPOSE_ARGS=-v removes them)
	@docker compose down $(COMPOSE_ARGS)

logs: ## Follow the containerized lab's logs (COMPOSE_ARGS=gateway for one service)
	@docker compose logs -f --tail=100 $(COMPOSE_ARGS)

ps: ## List the containerized lab's containers and their health
	@docker compose ps $(COMPOSE_ARGS)

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

bench: build ## Run every load/bench comparison (pinned, against peers) and collect one report with charts
	@infra/scripts/setup.sh bench
	@since=$$(date -u +%Y-%m-%dT%H-%M-%S); failed=0; \
	for run in load/bench/*/run.ts; do \
	  echo "== $$run"; node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON "$$run" || failed=1; \
	done; \
	node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON load/bench/lib/collect.ts --since "$$since"; \
	exit $$failed

k6: ## Build k6 from source with the Go toolchain (pinned, with the k6/x/tcp extension) into .bin/k6
	@infra/scripts/setup.sh k6
	@.bin/k6 version

# make load SCENARIO=mixed VUS=20 DURATION=60s RATE=400: any variable the scenarios read
# (load/k6/README.md) passes through the environment.
SCENARIO ?= mixed
LOAD := node --disable-warning=MODULE_TYPELESS_PACKAGE_JSON load/k6/run.ts

load: build k6 ## Run a k6 scenario against the lab, starting one if none answers (SCENARIO=mixed VUS= DURATION=)
	@$(LOAD) $(SCENARIO)

load-smoke: build k6 ## CI: start the lab if needed, run the k6 smoke scenario (every route once), stop it
	@timeout --kill-after=30s 10m $(LOAD) smoke

load-compare: ## Compare two k6 runs and flag regressions (A=<run> B=<run>; default: the two newest alike)
	@$(LOAD) compare $(A) $(B)

clean: ## Remove build output and lab state (keeps node_modules and .tools)
	@rm -rf services/*/dist gateway/dist infra/*/dist .lab
	@find . -name '*.tsbuildinfo' -not -path './node_modules/*' -delete
