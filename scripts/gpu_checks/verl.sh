#!/usr/bin/env bash
# A real verl 0.9.1 job on a GPU machine: 2 GiGPO steps on stepgym/Sokoban-v0 with a tiny model,
# vLLM rollout, stepgym's agent loop and the gigpo_sync trainer. Needs verl's own stack:
#   pip install 'verl[vllm]==0.9.1' -e .   (in a venv of its own: verl pins torch 2.11)
set -uo pipefail
command -v nvidia-smi >/dev/null && nvidia-smi >/dev/null 2>&1 || { echo "skipped: no GPU"; exit 77; }
python -c "import verl, vllm" 2>/dev/null || { echo "skipped: verl[vllm]==0.9.1 is not installed here"; exit 77; }
out=${OUT:-runs/gpu_check}/verl
mkdir -p "$out"
python -m stepgym.agents.tiny "$out/model" --size small >/dev/null || exit 1
python -c "
from transformers import AutoTokenizer; AutoTokenizer.from_pretrained('$out/model').save_pretrained('$out/model')"
MODEL="$out/model" DATA="$out/data" STEPS=2 BATCH=4 GROUP=2 GPUS=1 \
  bash examples/verl/sokoban_gigpo.sh trainer.default_local_dir="$out/ckpt" \
  actor_rollout_ref.rollout.gpu_memory_utilization=0.3 2>&1 | tee "$out/log.txt"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || { echo "FAILED: verl exited $rc"; exit 1; }
grep -q "gigpo/advantage_abs_mean" "$out/log.txt" || { echo "FAILED: no GiGPO metric in the log"; exit 1; }
echo "passed: 2 verl steps with GiGPO advantages from stepgym state keys"
