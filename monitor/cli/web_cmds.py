"""The analyst web view: `monitor serve` (the daemon serves it too: `monitor run --web`)."""

from __future__ import annotations

import click

from monitor.cli.base import command, state
from monitor.cli.root import root


@command(root, "serve", example="monitor serve --db ./monitor.db --address 127.0.0.1:8080")
@click.option(
    "--address",
    metavar="HOST:PORT",
    help="Where to serve (overrides MONITOR_WEB__ADDRESS; default 127.0.0.1:8080). Any "
    "address but a loopback one needs MONITOR_WEB__TOKEN.",
)
def serve(address: str | None) -> None:
    """Serve the analyst web view of the database until Ctrl-C: stories, alerts, facts,
    metric charts, rules with a backtest, sources, digests and deliveries, and a JSON API
    under /api/. Pages only read the database; retrying a dead delivery is its one write."""
    from monitor.rules.loader import RuleSet
    from monitor.rules.reload import RuleBook
    from monitor.web import server

    st = state()
    settings = st.settings()
    address = address or settings.web.address
    token = settings.web.token.get_secret_value() if settings.web.token else None
    server.check_address(address, token)  # before touching the database: a one-line refusal
    rulebook = RuleBook(st.rules_dir(), channels=st.channel_names())

    def rules() -> RuleSet:
        rulebook.maybe_reload()  # an edited rule file shows at the next page
        return rulebook.current

    view = server.make_view(settings, st.engine(), rules)
    server.serve(address, view)
