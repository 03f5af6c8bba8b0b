"""Deploy-time load of the global knowledge base shipped in the layer: a CDK Trigger
invokes this after the migrations, and again whenever this function or its layers (so
the articles) change. Unchanged articles are skipped, so a re-run costs little. A
failure (no Bedrock model access, no vector store) fails the deployment, as a failed
migration does, rather than leaving the API without its global KB."""

from typing import Any

from faultmaven.core.logging import logger
from faultmaven.knowledge.seed import load_articles
from faultmaven.lambda_entry import container_from_env, event_handler


@event_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    counts = container_from_env().knowledge.seed_global(load_articles(), owner_id=None)
    logger.info("global knowledge base seeded", extra=counts)
    return counts
