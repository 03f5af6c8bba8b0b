"""Deploy-time migrations: a CDK Trigger invokes this once the database and RDS Proxy
exist, and again whenever this function or its layers (so the migrations) change. A
failure fails the deployment, so the API is never rolled out over an old schema."""

from typing import Any

from faultmaven.adapters.postgres import Database
from faultmaven.core.logging import logger
from faultmaven.core.settings import get_settings
from faultmaven.db.migrate import current_head, upgrade_engine
from faultmaven.lambda_entry import event_handler


@event_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, str | None]:
    database = Database.from_settings(get_settings())
    try:
        # The Trigger's own timeout is 5 minutes; leave time for the migration itself.
        upgrade_engine(database.engine, connect_within_seconds=180)
    finally:
        database.dispose()
    head = current_head()
    logger.info("database migrated", extra={"revision": head})
    return {"revision": head}
