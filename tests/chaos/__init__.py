"""The chaos run (issue 11, "Reliability, measured"): ``test_chaos.py`` is its short mode, in the suite;
``python -m tests.chaos`` its long mode, run by hand (see README, "Reliability, measured")."""
