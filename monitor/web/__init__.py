"""The analyst web view (issue 15): server-rendered pages over the store, a JSON API
with the command line's ``--json`` data, and a metric chart drawn as SVG.

Top floor: it reads through ``monitor.store`` and the application's flows
(``monitor.app``) and decides nothing of its own. No page needs JavaScript; every asset
ships in the package (``static/``), and the Content-Security-Policy allows nothing else.
"""
