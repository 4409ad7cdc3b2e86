"""``make chaos``: Interlink's durability claims checked while processes die with SIGKILL."""
