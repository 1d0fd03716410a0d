#!/usr/bin/env bash
# TSPO's real setting with a real Qwen2.5-VL checkpoint on a GPU: frame and question features from
# the model's own towers, the same model frozen as the answerer; recall and answer accuracy of
# TSPO vs uniform sampling at k=4 on generated 24 s needle videos.
#   STEPGYM_QWEN25VL_DIR=/models/Qwen2.5-VL-3B-Instruct bash scripts/gpu_check.sh tspo
# Exit 0: ran, and TSPO's recall and accuracy beat uniform's; 77: skipped (no GPU or no checkpoint;
# nothing is downloaded: the model loads with local_files_only); anything else: failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
py=${PYTHON:-python}
dir=${STEPGYM_QWEN25VL_DIR:-}
if [ -z "$dir" ] || [ ! -f "$dir/config.json" ]; then
  echo "skipped: set STEPGYM_QWEN25VL_DIR to a local Qwen2.5-VL checkpoint directory (got '${dir}')"
  exit 77
fi
if ! "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "skipped: no CUDA device visible to torch"
  exit 77
fi
out=${OUT:-runs/gpu_check}/tspo
mkdir -p "$out"
"$py" -m stepgym.trainers.tspo_cli --features vlm --answerer vlm --model "$dir" --dtype bfloat16 --frame-tokens 64 \
  --videos 48 --duration 24 --candidates 64 --k 4 --iterations 100 --lr 0.005 --out "$out" || exit 1
"$py" - "$out/metrics.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
acc = m["accuracy"]
print(f"recall: uniform {m['uniform']:.3f} -> TSPO {m['after_greedy']:.3f}; accuracy: uniform "
      f"{acc['uniform']:.3f} -> TSPO {acc['after_greedy']:.3f}; answerer {m.get('answerer_replies')}")
ok = m["after_greedy"] > m["uniform"] and acc["after_greedy"] > acc["uniform"]
sys.exit(0 if ok else 1)
PY
