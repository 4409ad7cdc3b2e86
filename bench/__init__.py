"""``make bench``: Interlink's speed as ratios to baselines measured in the same run."""
