"""Channel codes (渠道活码).

Other domains call :mod:`siyu.domains.channel_codes.service` (ingestion: ``apply_contact_events``,
``known_states``, ``EVENT_TYPES``). This package surface stays import-free because other domains'
repositories join on ``channel_codes.models`` and the service depends on the customers service:
importing the service here would close that loop.
"""
