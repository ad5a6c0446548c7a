"""Network plumbing shared by fetching and the Slack and webhook senders.

``guard.py`` (the SSRF guard: which URLs and addresses may be reached), ``client.py``
(the guarded httpx client), ``body.py`` (bodies read under a cap), ``retry_after.py``
and ``redact.py`` (credential URLs kept out of logs and messages). It raises
``FetchError`` with a ``kind`` (``blocked_address``, ``blocked_scheme``, ``dns``,
``too_large``, ...); a sender turns that into a ``DeliveryError``.
"""
