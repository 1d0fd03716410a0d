#!/usr/bin/env bash
# GiGPO on stepgym/Sokoban-v0 with verl 0.9.1 (GPU machine: pip install 'stepgym[verl]' 'verl[vllm]==0.9.1').
#   MODEL=Qwen/Qwen2.5-1.5B-Instruct bash examples/verl/sokoban_gigpo.sh [extra hydra overrides]
# ENV_ID=stepgym/Mobile-v0 with a VL model (Qwen/Qwen2.5-VL-3B-Instruct) trains on screenshots.
set -euo pipefail
ENV_ID=${ENV_ID:-stepgym/Sokoban-v0}
MODEL=${MODEL:-Qwen/Qwen2.5-1.5B-Instruct}
DATA=${DATA:-runs/verl-data/$(echo "$ENV_ID" | tr '/' '_')}
python -c "from stepgym.integrations.verl import write_dataset as w; w('$ENV_ID', 512, '$DATA/train.parquet'); w('$ENV_ID', 64, '$DATA/val.parquet', seed=100000)"
export VERL_USE_EXTERNAL_MODULES=stepgym.integrations.verl   # registers the loop and trainer in every worker
python -m verl.trainer.main_ppo \
  data.train_files="$DATA/train.parquet" data.val_files="$DATA/val.parquet" \
  data.train_batch_size=${BATCH:-16} data.max_prompt_length=2048 data.max_response_length=256 \
  actor_rollout_ref.model.path="$MODEL" \
  actor_rollout_ref.rollout.name=${ROLLOUT:-vllm} actor_rollout_ref.rollout.n=${GROUP:-8} \
  actor_rollout_ref.rollout.prompt_length=2048 actor_rollout_ref.rollout.response_length=256 \
  actor_rollout_ref.rollout.agent.agent_loop_config_path=examples/verl/agent_loops.yaml \
  actor_rollout_ref.rollout.agent.default_agent_loop=stepgym \
  actor_rollout_ref.actor.ppo_mini_batch_size=${BATCH:-16} \
  trainer.use_v1=true trainer.v1.trainer_mode=gigpo_sync \
  +algorithm.gigpo.gamma=0.95 +algorithm.gigpo.omega=1.0 +algorithm.gigpo.normalize=mean \
  trainer.n_gpus_per_node=${GPUS:-1} trainer.nnodes=1 trainer.total_training_steps=${STEPS:-100} \
  trainer.logger='[console]' "$@"
