# xray: native targets. `make help` lists them.
# Inside this project's workspace, use the shared offline Hub cache when it is there.
ifneq ($(wildcard ../shared/data/hf),)
HF_HOME ?= $(abspath ../shared/data/hf)
export HF_HOME
endif

.PHONY: help build test train attn check-html profile bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## release build of the xray binary
	cargo build --release

test: ## the test suite (as CI runs it)
	cargo test --locked

train: ## the main job: train on IMDb, write runs/, metrics/, figures/
	cargo run --release -- train --dataset imdb

attn: ## attention X-ray of the latest run, with mask comparisons, HTML page and faithfulness
	cargo run --release -- attn --example 3 --compare-causal --html --json

check-html: ## open figures/attn.html in headless Chromium, offline, and check it renders
	scripts/check_html.sh figures/attn.html

profile: ## the brief's speed protocol on the default model
	cargo run --release -- profile --seq-len 256 --batch-size 16 --steps 50

bench: ## criterion benchmarks of the default model (forward, forward+backward)
	cargo bench --bench block
