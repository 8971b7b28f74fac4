"""Background jobs: the dashboard summaries' scheduled refresh (``siyu serve`` in a thread, ``siyu worker``)."""
