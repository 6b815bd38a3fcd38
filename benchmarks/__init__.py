"""The benchmark suite: `make bench` (`python -m benchmarks.run`) measures ours against Rasa's default pipeline."""
