"""Import every domain's tables so metadata is complete (Alembic and test schemas use this)."""

from siyu.analytics import models as _analytics  # noqa: F401  (daily summaries)
from siyu.db.base import Base
from siyu.domains.access import models as _access  # noqa: F401
from siyu.domains.channel_codes import models as _channel_codes  # noqa: F401
from siyu.domains.channel_costs import models as _channel_costs  # noqa: F401
from siyu.domains.content import models as _content  # noqa: F401
from siyu.domains.customers import models as _customers  # noqa: F401
from siyu.domains.events import models as _events  # noqa: F401
from siyu.domains.groups import models as _groups  # noqa: F401
from siyu.domains.identity import models as _identity  # noqa: F401
from siyu.domains.mass_messages import models as _mass_messages  # noqa: F401
from siyu.domains.journeys import models as _journeys  # noqa: F401
from siyu.domains.orders import models as _orders  # noqa: F401
from siyu.domains.outbox import models as _outbox  # noqa: F401
from siyu.domains.scores import models as _scores  # noqa: F401
from siyu.domains.segments import models as _segments  # noqa: F401
from siyu.domains.service import models as _service  # noqa: F401
from siyu.domains.staff import models as _staff  # noqa: F401
from siyu.domains.tags import models as _tags  # noqa: F401
from siyu.domains.tasks import models as _tasks  # noqa: F401

metadata = Base.metadata
