"""Building blocks with no domain knowledge; nothing here imports a domain package."""
