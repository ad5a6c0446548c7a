"""Alembic environment: run with the connection monitor hands over (store.db.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import monitor.models

target_metadata = monitor.models.declare_all()  # every table, as autogenerate compares them
monitor.models.add_postgresql_indexes()
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # the caller's progress (monitor.store.db.upgrade's on_step), when it asked for it
        hooks = {}
        if "on_version_apply" in config.attributes:
            hooks["on_version_apply"] = config.attributes["on_version_apply"]
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            **hooks,
        )
        if "on_start" in config.attributes:
            config.attributes["on_start"](context.get_context().get_current_revision())
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
