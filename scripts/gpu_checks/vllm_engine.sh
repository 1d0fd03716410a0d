#!/usr/bin/env bash
# The "vllm" rollout engine on its multimodal path, on a GPU: two RL iterations on image Sokoban
# with a Qwen2.5-VL sampled through vLLM (images as embeddings from the trainer's vision tower),
# weights synced in memory after every update. Passes when, after each update, vLLM's sampled and
# teacher-forced log-probs match the trainer's (and not the weights before the update), the
# trainer's logged logprob_mismatch is small, and a repeated (seed, call) draws the same tokens.
# Then the same tokens/s comparison as benchmarks/vllm_engine.py, on the GPU.
#   bash scripts/gpu_check.sh vllm_engine
#   STEPGYM_QWEN25VL_DIR=/models/Qwen2.5-VL-3B-Instruct bash scripts/gpu_check.sh vllm_engine  # a real one
# Default model: a tiny random Qwen2.5-VL (tiny:small, head_dim 32), built here; nothing is
# downloaded. Needs vllm (pip install 'stepgym[vllm]') in $PYTHON's environment.
# Exit 0: passed; 77: skipped (no GPU, or no vllm); anything else: failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
py=${PYTHON:-python}
command -v nvidia-smi >/dev/null && nvidia-smi >/dev/null 2>&1 || { echo "skipped: no GPU"; exit 77; }
"$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
  || { echo "skipped: no CUDA device visible to torch"; exit 77; }
"$py" -c "import vllm" 2>/dev/null || { echo "skipped: vllm is not importable by $py (pip install 'stepgym[vllm]')"; exit 77; }
out=${OUT:-runs/gpu_check}/vllm_engine
rm -rf "$out"; mkdir -p "$out"
model_args=()
dir=${STEPGYM_QWEN25VL_DIR:-}
if [ -n "$dir" ]; then
  [ -f "$dir/config.json" ] || { echo "FAILED: STEPGYM_QWEN25VL_DIR=$dir has no config.json"; exit 1; }
  model_args=(--model "$dir")
fi
PYTHONPATH=$PWD "$py" tests/trainers/vllm_train_check.py "$out" --multimodal ${model_args[@]+"${model_args[@]}"} 2>&1 | tee "$out/log.txt"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || { echo "FAILED: the training run exited $rc"; exit 1; }
"$py" - "$out/result.json" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
bad = []
for i, it in enumerate(r["iterations"]):
    print(f"iteration {i}: rows {it['rows_trained']}, logprob_mismatch {it['logprob_mismatch']:.2e} "
          f"(max {it['logprob_mismatch_max']:.2e}), sampled vs trainer {it['sampled_vs_trainer']:.2e}, "
          f"vs the weights before the update {it['sampled_vs_stale']:.2e}, teacher-forced vs trainer "
          f"{it['teacher_forced_vs_trainer']:.2e}, repeat same tokens {it['repeat_same_tokens']}")
    # GPU kernels (vLLM's attention, TF32 matmuls) differ from transformers' more than on a CPU
    if not it["rows_trained"]: bad.append(f"iteration {i} trained on no row")
    if it["weights_moved"] <= 0: bad.append(f"iteration {i}: the update did not change the weights")
    if it["logprob_mismatch"] > 2e-2: bad.append(f"iteration {i}: logprob_mismatch {it['logprob_mismatch']}")
    if it["teacher_forced_vs_trainer"] > 0.1: bad.append(f"iteration {i}: teacher-forced gap {it['teacher_forced_vs_trainer']}")
    if not it["sampled_vs_stale"] > 2 * it["sampled_vs_trainer"]:
        bad.append(f"iteration {i}: vLLM's log-probs are no closer to the updated weights than to the old ones")
    if not it["repeat_same_tokens"]: bad.append(f"iteration {i}: the same (seed, call) drew other tokens")
print("FAILED: " + "; ".join(bad) if bad else "passed: vLLM sampled with the trainer's weights after each update")
sys.exit(1 if bad else 0)
PY
PYTHONPATH=$PWD "$py" benchmarks/vllm_engine.py --inside --prompts 64 --max-new-tokens 32 --calls 5 --threads 8 \
  | tee "$out/bench.txt" | tail -1 || true
exit 0
