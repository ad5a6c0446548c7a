"""Analyst rules: the file schema and loader, the pure engine, hot reload, test reports."""
