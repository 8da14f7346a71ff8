"""Imports every domain's models so `Base.metadata` is complete (alembic, tests)."""

from db.accounts import models as accounts_models
from db.base import Base
from db.booking import models as booking_models
from db.catalog import models as catalog_models
from db.cinemas import models as cinemas_models
from db.orders import models as orders_models
from db.outbox import models as outbox_models
from db.pages import models as pages_models
from db.payments import models as payments_models
from db.persisted import models as persisted_models
from db.reports import models as reports_models
from db.reviews import models as reviews_models
from db.shop import models as shop_models
from db.showtimes import models as showtimes_models

__all__ = [
    "Base",
    "accounts_models",
    "booking_models",
    "catalog_models",
    "cinemas_models",
    "orders_models",
    "outbox_models",
    "pages_models",
    "payments_models",
    "persisted_models",
    "reports_models",
    "reviews_models",
    "shop_models",
    "showtimes_models",
]
