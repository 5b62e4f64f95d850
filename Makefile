# xray. `make help` lists the targets. build, sh, jupyter, stop and profile run in
# Docker (image p1_rayosx_transformer; GPU=1 for the CUDA image and --gpus all);
# release, test, train, attn, check-html and bench run natively with cargo.

IMAGE     ?= p1_rayosx_transformer
CONTAINER ?= $(IMAGE)_jupyter
HF_VOLUME ?= xray-hf-cache
PORT      ?= 8888

ifeq ($(GPU),1)
DOCKERFILE := Dockerfile.gpu
TAG        := $(IMAGE):gpu
GPU_FLAGS  := --gpus all
DEVICE     := cuda
else
DOCKERFILE := Dockerfile
TAG        := $(IMAGE):latest
GPU_FLAGS  :=
DEVICE     := cpu
endif

# The project at /workspace, the Hugging Face cache on a named volume. The
# container runs as the host user, so what it writes into the project is the
# user's (the image's own uid fails for any other host uid); HOME in /tmp, which
# any uid may write.
AS_HOST_USER := --user $(shell id -u):$(shell id -g) -e HOME=/tmp
DOCKER_RUN := docker run --rm $(GPU_FLAGS) $(AS_HOST_USER) -v "$(CURDIR)":/workspace \
	-v $(HF_VOLUME):/home/xray/.cache/huggingface

# Inside this project's workspace, use the shared offline Hub cache when it is there.
# Relative (every native target runs from the project root), so that what the
# targets print, and the notebook saves, names no one machine's folders.
ifneq ($(wildcard ../shared/data/hf),)
HF_HOME ?= ../shared/data/hf
export HF_HOME
endif

.PHONY: help build sh jupyter stop profile release test train attn notebook video check-html bench artifacts

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## [docker] build the image (GPU=1: the CUDA image from Dockerfile.gpu)
	DOCKER_BUILDKIT=1 docker build -f $(DOCKERFILE) -t $(TAG) .

sh: ## [docker] a shell in the image, project at /workspace
	$(DOCKER_RUN) -it $(TAG) bash

jupyter: ## [docker] JupyterLab on http://localhost:8888 (PORT=...), for notebooks/walkthrough.ipynb
	docker run -d --rm --name $(CONTAINER) $(GPU_FLAGS) $(AS_HOST_USER) -p $(PORT):8888 \
		-v "$(CURDIR)":/workspace -v $(HF_VOLUME):/home/xray/.cache/huggingface \
		$(TAG) jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --notebook-dir=/workspace
	@echo "JupyterLab is starting; its URL with the token: docker logs $(CONTAINER)"

stop: ## [docker] stop the JupyterLab container
	docker stop $(CONTAINER)

profile: ## [docker] the brief's speed protocol on the default model
	$(DOCKER_RUN) $(TAG) xray profile --device $(DEVICE) --seq-len 256 --batch-size 16 --steps 50

release: ## [native] release build of the xray binary
	cargo build --release

notebook: release ## [native] execute notebooks/walkthrough.ipynb top to bottom and save its outputs (XRAY_RUN=DIR: inspect that run)
	python3 -m venv target/nb-venv
	target/nb-venv/bin/pip install -q nbclient==0.10.2 ipykernel==7.4.0 nbformat==5.11.1
	target/nb-venv/bin/python scripts/run_notebook.py notebooks/walkthrough.ipynb notebooks/walkthrough.ipynb

test: ## [native] the test suite (as CI runs it)
	cargo test --locked

train: ## [native] the main job: train on IMDb, write runs/, metrics/, figures/
	cargo run --release -- train --dataset imdb

attn: ## [native] attention X-ray of the latest run: mask comparisons, HTML page, faithfulness and head cards, minimal pairs
	cargo run --release -- attn --example 3 --compare-causal --html --json --pairs --faithfulness 500

video: release ## [native] the demo video from figures/ and metrics/: video/xray.mp4 + video/script.md (needs ffmpeg, espeak-ng)
	target/release/xray video --voice

artifacts: ## [native] every committed artifact from one default run: train, X-ray, notebook, videos (en, es), metrics/provenance.json (~20 min on a 2-core Zen 4)
	scripts/artifacts.sh

check-html: ## [native] open figures/attn.html in headless Chromium, offline, and check it renders
	scripts/check_html.sh figures/attn.html

bench: ## [native] xray against the PyTorch peer side by side, 1 and 2 threads (scripts/compare.sh)
	scripts/compare.sh
