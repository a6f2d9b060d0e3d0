"""Frontends translate a framework model or config into core layers; only layers count."""
