"""GraphQL enums of the reviews domain, registered once (import them from here)."""

from __future__ import annotations

import strawberry

from db.reviews.codes import ReviewErrorCode, ReviewSort, ReviewStatus

strawberry.enum(ReviewErrorCode, description="Codes of review mutation errors.")
strawberry.enum(ReviewStatus, description="Moderation status of a review.")
strawberry.enum(ReviewSort, description="Orders of a movie's reviews; ties are broken by ID.")

__all__ = ["ReviewErrorCode", "ReviewSort", "ReviewStatus"]
