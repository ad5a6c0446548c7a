"""Delivery: what analysts read, where it goes, and the senders (issue 12).

Pure (values in, values out; an import-linter contract): ``news.py`` (what is new, as the
application hands it over), ``digest.py`` (``build_digest``: grouping, order, wording),
``view.py``, the renderers ``render_text``, ``render_html``, ``render_slack`` and
``render_json``, ``compose.py`` (a channel's messages), ``message.py`` and ``memory.py``.

Configuration: ``channels.py`` (channels.yaml) and ``schedule.py`` (cron in a time zone,
windows). Senders behind the ``Notifier`` protocol (``notifier.py``): ``email.py``,
``slack.py`` and ``webhook.py`` (through ``http_post.py`` and ``monitor.net``), chosen by
``senders.notifier_for``. The application (``monitor.app.digests``) builds the
``DigestNews`` from the store and queues what ``compose`` makes in the outbox.
"""
