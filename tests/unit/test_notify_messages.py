"""Message ids, results, the retry schedule, composing per channel, and safe text."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace
from datetime import timedelta

import pytest
from pydantic import SecretStr

from monitor.errors import DeliveryError
from monitor.net.redact import redact_url, scrub
from monitor.notify.channels import Channel
from monitor.notify.compose import compose
from monitor.notify.digest import build_digest
from monitor.notify.message import OutboundMessage, RecipientResult, SendResult, result_from_error
from monitor.notify.news import DigestNews
from monitor.notify.notifier import RETRY_AFTER_MAX, backoff, retry_delay
from monitor.notify.textsafe import one_line, safe_link, slack_escape, slack_link
from tests.unit.digest_samples import NOW, many_alerts, morning

MSG = OutboundMessage("digest", "42", "desk", 2, 3, "subject", "text", recipients=("a@x.test",))


def test_message_ids_are_deterministic_and_distinct() -> None:
    assert MSG.message_id == replace(MSG).message_id  # the same on every try
    # what it says counts: a database started again numbers its digests from 1 again, and
    # a mailbox drops a Message-ID it has seen (the outbox's key stays the same)
    assert MSG.message_id != replace(MSG, text="other text").message_id
    assert MSG.idempotency_key == replace(MSG, text="other text").idempotency_key
    ids = {
        MSG.message_id,
        replace(MSG, recipients=("b@x.test",)).message_id,
        replace(MSG, part=3).message_id,
        replace(MSG, channel="other").message_id,
        replace(MSG, ref_id="43").message_id,
        replace(MSG, kind="alert").message_id,
    }
    assert len(ids) == 6
    assert MSG.message_id.startswith("digest.42.2of3.")
    assert MSG.idempotency_key == "digest:42:desk:2/3:a@x.test"
    # a Message-ID's left part is dot-atom text (RFC 5322 3.6.4), whatever the ref holds
    odd = replace(MSG, ref_id="digest:desk@2026-03-08T00:00Z <x>").message_id
    assert all(c.isalnum() or c in ".-_" for c in odd)


def test_a_result_aggregates_its_recipients() -> None:
    ok = RecipientResult("a", "delivered")
    later = RecipientResult("b", "retry", "smtp_451", "busy", retry_after=30)
    never = RecipientResult("c", "permanent", "smtp_550", "no such user")
    assert SendResult("m", (ok,)).status == "delivered"
    assert SendResult("m", (ok, never)).status == "permanent"
    assert SendResult("m", (ok, later, never)).status == "retry"
    both = SendResult("m", (ok, later, never))
    assert both.retry_after == 30 and both.recipients("permanent") == ("c",)
    assert both.error == "b: smtp_451: busy; c: smtp_550: no such user"


def test_a_delivery_error_names_its_kind_once() -> None:
    """The outbox row read "hook: connect_refused: connect_refused: 127.0.0.1: ..."."""
    failed = result_from_error(
        replace(MSG, recipients=()), DeliveryError("connect_refused", "127.0.0.1: refused")
    )
    assert failed.error == f"{MSG.channel}: connect_refused: 127.0.0.1: refused"


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(3600.0, 30.0 * 2 ** (attempt - 1))
        delays = [backoff(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert statistics.pstdev(delays) > 0  # jittered, not lock-step
    assert backoff(60, rng) <= 3600.0 and backoff(10_000, rng) <= 3600.0
    assert backoff(0, rng) == 0.0
    assert backoff(3, random.Random(1), base=1, cap=2) <= 2


def test_retry_after_wins_over_the_schedule_when_it_asks_for_longer() -> None:
    """A server's wait beyond the schedule is kept; a shorter one (0, or a date past)
    no longer made a message retry at every tick, spending its tries within a minute;
    one of centuries overflowed the next try's time and is cut to a week."""
    rng = random.Random(1)
    waited = RecipientResult("c", "retry", "http_429", "rate_limited", retry_after=700.0)
    assert retry_delay(waited, 1, rng) == 700.0
    assert retry_delay(replace(waited, retry_after=None), 1, rng) >= 15.0
    for short in (0.0, 7.0, -5.0):
        assert 15.0 <= retry_delay(replace(waited, retry_after=short), 1, rng) <= 30.0
    assert retry_delay(replace(waited, retry_after=3e11), 1, rng) == RETRY_AFTER_MAX


def test_a_digest_of_thousands_of_stories_goes_in_parts_of_bounded_size() -> None:
    """5,000 stories made one 8 MB email and one 5 MB webhook body, refused by receivers'
    size limits and so dead on every try. Email and webhook digests now go in numbered
    parts of at most STORIES_PER_PART stories, as Slack's do; each story in one part."""
    import json

    from monitor.notify.compose import STORIES_PER_PART
    from monitor.notify.view import CompanyView, DigestView, Line, Point, StoryView

    def story(c: int, k: int) -> StoryView:
        point = Point((Line(f"capex {k} -> {k + 1} billion"),), f"Company {c} said {k}.", ())
        alerted = (c, k) == (4, 89)  # the last story: in the last part
        return StoryView(f"Story {c}-{k}", f"https://news.test/{c}/{k}",
                         "high" if alerted else None, "2 sources", (point,),
                         alert_ids=(7,) if alerted else ())  # fmt: skip

    companies = tuple(
        CompanyView(f"Company {c}", None, "capex up", tuple(story(c, k) for k in range(90)))
        for c in range(5)
    )  # 450 stories
    alerts = (Point((Line("a rule fired", "high"),), None, ()),)
    view = DigestView("Digest", "Digest: 5 companies", "now", None, "450 stories", "high",
                      companies, alerts, (7, 1))  # fmt: skip
    hook = compose(Channel(name="hook", type="webhook", url_env="X"), view, ref_id="9")
    mail = compose(Channel(name="mail", type="email", to=("a@x.test", "b@x.test")), view,
                   ref_id="9")  # fmt: skip
    assert [(m.part, m.parts) for m in hook] == [(1, 3), (2, 3), (3, 3)]
    assert len(mail) == 6 and {m.recipients for m in mail} == {("a@x.test",), ("b@x.test",)}
    assert [m.subject for m in hook][1] == "Digest: 5 companies (part 2 of 3)"
    titles = []
    for m in hook:
        assert m.payload is not None and len(json.dumps(m.payload)) < 1 << 20
        got = [s["title"] for c in m.payload["companies"] for s in c["stories"]]
        assert len(got) <= STORIES_PER_PART
        titles += got
    assert titles == [s.title for c in companies for s in c.stories]  # each once, in order
    assert [len(m.payload["other_alerts"]) for m in hook if m.payload] == [1, 0, 0]
    # each part acknowledges the alerts it shows, and no other
    assert [m.payload["alert_ids"] for m in hook if m.payload] == [[1], [], [7]]
    assert [m.payload["severity"] for m in hook if m.payload] == ["high", None, "high"]
    assert "Story 4-89" in mail[-1].text and "Story 0-0" not in mail[-1].text
    small = replace(view, companies=companies[:1])
    assert len(compose(Channel(name="hook", type="webhook", url_env="X"), small, ref_id="9")) == 1


def test_compose_gives_each_channel_its_messages() -> None:
    view = build_digest(morning())
    email = Channel(name="mail", type="email", to=("a@x.test", "b@x.test"))
    mails = compose(email, view, ref_id="9")
    assert [m.recipients for m in mails] == [("a@x.test",), ("b@x.test",)]
    assert all(m.html and "<html" in m.html and m.text.startswith("Morning digest") for m in mails)
    assert mails[0].message_id != mails[1].message_id

    slack = Channel(name="s", type="slack", url=SecretStr("https://h.test/x"))
    many = compose(slack, build_digest(many_alerts(500)), ref_id="9")
    assert len(many) > 1 and [m.part for m in many] == list(range(1, len(many) + 1))
    assert all(m.parts == len(many) and m.payload and "blocks" in m.payload for m in many)
    assert len({m.idempotency_key for m in many}) == len(many)

    hook = Channel(name="w", type="webhook", url=SecretStr("https://h.test/x"))
    (one,) = compose(hook, view, ref_id="9", kind="alert")
    assert one.kind == "alert" and one.payload and one.payload["companies"]


def test_an_empty_digest_is_sent_only_when_the_channel_asks() -> None:
    empty = build_digest(DigestNews(title="d", generated_at=NOW, since=NOW - timedelta(days=1)))
    channel = Channel(name="mail", type="email", to=("a@x.test",))
    assert compose(channel, empty, ref_id="1") == ()
    (msg,) = compose(replace(channel, send_empty=True), empty, ref_id="1")
    assert "Nothing new" in msg.text


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://x.test/a?b=1", True),
        ("HTTP://X.TEST/", True),
        ("javascript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("vbscript:x", False),
        ("//evil.test/x", False),
        ("/relative", False),
        ("https:evil.test", False),
        ("https://x.test/a b", False),
        ("https://x.test/\u202eevil", False),
        (None, False),
    ],
)
def test_only_http_links_survive(url: str | None, ok: bool) -> None:
    assert (safe_link(url) is not None) is ok


def test_one_line_text() -> None:
    assert one_line("a\r\nBcc: b\x00c\u202ed\te  f") == "a Bcc: b c d e f"
    assert one_line("x" * 50, 10) == "x" * 9 + "\u2026"
    assert one_line(None) == ""


def test_slack_escaping_and_links() -> None:
    assert slack_escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert slack_link("https://x.test/a?b=1&c=<2>|3", "t<i>") == (
        "<https://x.test/a?b=1&amp;c=%3C2%3E%7C3|t&lt;i&gt;>"
    )
    assert slack_link("javascript:alert(1)", "<!here>") == "&lt;!here&gt;"


def test_redaction_keeps_the_host_only() -> None:
    url = "https://hooks.slack.com/services/T0/B0/XyZsecret?x=1"
    assert redact_url(url) == "https://hooks.slack.com/\u2026"
    assert redact_url("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080/\u2026"
    text = f"POST {url} failed; path /services/T0/B0/XyZsecret"
    cleaned = scrub(text, [url])
    assert "XyZsecret" not in cleaned and "hooks.slack.com" in cleaned


def test_redaction_of_a_url_urlsplit_refuses_never_raises() -> None:
    """It runs in error handlers and log filters: raising there turns one failure into
    many (a port out of range raises from ``.port``, an unclosed IPv6 host from urlsplit)."""
    for bad in ("https://hooks.example.test:99999/T0/s3cr3t", "https://[::1/T0/s3cr3t"):
        assert redact_url(bad) == "<url>"
        assert "s3cr3t" not in scrub(f"failed at {bad}; path /T0/s3cr3t", [bad])


def test_a_token_in_the_query_is_hidden_however_the_client_writes_the_url() -> None:
    """httpx writes ``http://host:80/p?token=X`` without its default port, so the whole
    URL did not match and only the path was hidden; and of two channels with one path and
    two tokens, hiding the first one's path left the second's token in the clear."""
    one = "http://127.0.0.1:80/hook?token=SECRET_A"
    logged = 'HTTP Request: POST http://127.0.0.1/hook?token=SECRET_A "HTTP/1.1 500"'
    assert "SECRET" not in scrub(logged, [one])
    pair = ["http://h.test/hook?token=SECRET_B1", "http://h.test/hook?token=SECRET_B2"]
    for url in pair:
        cleaned = scrub(f"POST {url} failed; query {url.partition('?')[2]}", pair)
        assert "SECRET" not in cleaned and "h.test" in cleaned, cleaned


def test_each_channel_type_gets_its_notifier() -> None:
    from monitor.errors import ConfigError
    from monitor.notify.email import EmailNotifier
    from monitor.notify.senders import notifier_for
    from monitor.notify.slack import SlackNotifier
    from monitor.notify.webhook import WebhookNotifier
    from monitor.settings import Settings

    settings = Settings(smtp={"host": "mail.example.com"})
    url = SecretStr("https://hooks.example.com/x")
    email = Channel(name="m", type="email", to=("a@x.test",))
    assert isinstance(notifier_for(email, settings), EmailNotifier)
    slack = notifier_for(Channel(name="s", type="slack", url=url), settings)
    hook = notifier_for(Channel(name="w", type="webhook", url=url), settings)
    assert isinstance(slack, SlackNotifier) and isinstance(hook, WebhookNotifier)
    assert "hooks.example.com/x" not in repr(slack) + repr(hook)
    with pytest.raises(ConfigError, match="URL_VAR is not set"):
        notifier_for(Channel(name="s", type="slack", url_env="URL_VAR"), settings)
    with pytest.raises(ConfigError, match="MONITOR_SMTP__HOST"):
        notifier_for(email, Settings())
