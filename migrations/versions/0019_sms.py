"""text messages: users.sms_opt_in, and payOrder's settle writes the SMS confirmation

Revision ID: 0019_sms
Revises: 0018_password_tokens
Create Date: 2026-12-03
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision: str = "0019_sms"
down_revision: str | None = "0018_password_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# marquee_settle_payment (0010_payment_functions) writes the confirmation e-mail in SQL; it
# now writes the SMS confirmation too, in the same statement, when the buyer has a phone
# and opted in (the dedupe key differs from the e-mail's; db/orders/actions.py writes the
# same row on the webhook path, so either path, or both, make one message).
E_MAIL_INSERT_END = """        ON CONFLICT (dedupe_key) DO NOTHING;
        o_result := 'PAID';"""
SMS_INSERT = """        ON CONFLICT (dedupe_key) DO NOTHING;
        IF v_order.showtime_id IS NOT NULL THEN
            INSERT INTO outbox_messages
                (channel, template, recipient, context, dedupe_key, message_id)
            SELECT 'SMS', 'order_confirmation', u.phone, v_context,
                'order-confirmation-sms:' || v_order.id,
                '<' || replace(gen_random_uuid()::text, '-', '') || '@' || p_mail_domain || '>'
            FROM users u
            WHERE u.id = v_order.user_id AND u.sms_opt_in AND u.phone IS NOT NULL
            ON CONFLICT (dedupe_key) DO NOTHING;
        END IF;
        o_result := 'PAID';"""


def _payment_functions() -> ModuleType:
    path = Path(__file__).with_name("0010_payment_functions.py")
    spec = importlib.util.spec_from_file_location("marquee_migration_0010_payment", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _settle_function(with_sms: bool) -> str:
    definition: str = _payment_functions().SETTLE_PAYMENT_FUNCTION
    assert definition.count(E_MAIL_INSERT_END) == 1
    if with_sms:
        definition = definition.replace(E_MAIL_INSERT_END, SMS_INSERT)
    return definition.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("sms_opt_in", sa.Boolean(), server_default="false", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_users_sms_opt_in_phone"), "users", "phone IS NOT NULL OR NOT sms_opt_in"
    )
    op.execute(_settle_function(with_sms=True))


def downgrade() -> None:
    op.execute(_settle_function(with_sms=False))
    op.drop_constraint(op.f("ck_users_sms_opt_in_phone"), "users", type_="check")
    op.drop_column("users", "sms_opt_in")
