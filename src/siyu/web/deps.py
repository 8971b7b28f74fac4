"""HTTP dependencies live with access (domains must not import web); re-exported for the console."""

from siyu.domains.access.deps import get_principal, get_session, get_settings_dep, require_reader, require_scope

__all__ = ["get_principal", "get_session", "get_settings_dep", "require_reader", "require_scope"]
