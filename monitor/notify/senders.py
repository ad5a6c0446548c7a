"""The notifier for a channel, built from the settings: the one place that chooses."""

from __future__ import annotations

import ssl

from monitor.errors import ConfigError
from monitor.notify.channels import Channel
from monitor.notify.email import EmailNotifier
from monitor.notify.notifier import Notifier
from monitor.notify.slack import SlackNotifier
from monitor.notify.webhook import WebhookNotifier
from monitor.settings import Settings


def notifier_for(
    channel: Channel, settings: Settings, *, tls_context: ssl.SSLContext | None = None
) -> Notifier:
    """A notifier sending ``channel``'s messages; ``ConfigError`` when it cannot."""
    if channel.type == "email":
        return EmailNotifier(settings.smtp, tls_context=tls_context)
    if channel.url is None:
        raise ConfigError(f"channel {channel.name}: {channel.url_env} is not set")
    if channel.type == "slack":
        return SlackNotifier(channel.url, http=settings.http, slack=settings.slack)
    return WebhookNotifier(
        channel.url, secret=channel.secret, http=settings.http, webhook=settings.webhook
    )
