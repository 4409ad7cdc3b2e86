"""Integration instances: the catalog, encrypted credentials, links, execution, health and logs."""
