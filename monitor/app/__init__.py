"""The application floor: every flow that crosses stages (DESIGN.md section 2).

Each module owns one flow and is the only place that sees the stages and the store
together: ``placement`` (exact, near-duplicate and same-story placement of a batch),
``batches`` (store, extract, place and evaluate new articles: what a poll and an ingest
share), ``polling``, ``evaluation`` (rules over stored facts, replay), ``digests``,
``health``. ``monitor.pipeline`` assembles them for the daemon and the command line.
"""
