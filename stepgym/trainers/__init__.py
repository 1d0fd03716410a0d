"""Trainers: advantage estimators, losses, rollouts and the training loop."""
