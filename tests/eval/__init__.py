"""Evaluation on real news: scripts named ``eval_*.py`` (run by ``make eval``) and the
loaders and scoring they share with the tests that assert the targets."""
