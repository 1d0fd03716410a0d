"""stepgym environments inside other trainers: TRL's GRPOTrainer, OpenEnv servers, verl's agent loop.

One module per engine, each behind its extra, imported explicitly so that `import stepgym` never
pulls a trainer in:

- `stepgym.integrations.trl` (`stepgym[trl]`): a `rollout_func` for text envs and an
  `environment_factory` adapter (typed tools with screenshots) for visual envs;
- `stepgym.integrations.openenv` (`stepgym[openenv]`): any env served as an OpenEnv environment
  (`stepgym serve-env ENV_ID`), and its typed client;
- `stepgym.integrations.verl` (`stepgym[verl]`): an agent loop running one env step per turn, and
  GiGPO over stepgym's state keys as a verl trainer.

`stepgym.integrations.episode` is what they share: one env driven one episode at a time by text.
"""
